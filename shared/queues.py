"""The API↔worker contract: queue names and stable task wire names."""

from enum import StrEnum

TENANT_QUEUE_PREFIX = "tenant."


class Queue(StrEnum):
    WEBHOOKS = "webhooks"
    MAINTENANCE = "maintenance"


class TaskName(StrEnum):
    RUN_COMPLETION = "workers.run_completion"
    REQUEUE_STALE_JOBS = "workers.requeue_stale_jobs"
    DELIVER_WEBHOOK = "workers.deliver_webhook"
    DELIVER_DUE_WEBHOOKS = "workers.deliver_due_webhooks"
    FINISH_BATCHES = "workers.finish_batches"
    CHECK_UPSTREAM = "workers.check_upstream"
    SYNC_MODEL_CATALOG = "workers.sync_model_catalog"
    DELETE_EXPIRED_FILES = "workers.delete_expired_files"
    SUBMIT_DISCOUNT_LINES = "workers.submit_discount_lines"
    FOLLOW_UPSTREAM_BATCHES = "workers.follow_upstream_batches"
    CHECK_BUDGET_ALERTS = "workers.check_budget_alerts"
    SYNC_PROVISIONED_KEYS = "workers.sync_provisioned_keys"
    RECONCILE_COSTS = "workers.reconcile_costs"


TASK_QUEUE: dict[TaskName, Queue] = {
    TaskName.REQUEUE_STALE_JOBS: Queue.MAINTENANCE,
    TaskName.DELIVER_WEBHOOK: Queue.WEBHOOKS,
    TaskName.DELIVER_DUE_WEBHOOKS: Queue.MAINTENANCE,
    TaskName.FINISH_BATCHES: Queue.MAINTENANCE,
    TaskName.CHECK_UPSTREAM: Queue.MAINTENANCE,
    TaskName.SYNC_MODEL_CATALOG: Queue.MAINTENANCE,
    TaskName.DELETE_EXPIRED_FILES: Queue.MAINTENANCE,
    TaskName.SUBMIT_DISCOUNT_LINES: Queue.MAINTENANCE,
    TaskName.FOLLOW_UPSTREAM_BATCHES: Queue.MAINTENANCE,
    TaskName.CHECK_BUDGET_ALERTS: Queue.MAINTENANCE,
    TaskName.SYNC_PROVISIONED_KEYS: Queue.MAINTENANCE,
    TaskName.RECONCILE_COSTS: Queue.MAINTENANCE,
}


def tenant_queue(slug: str) -> str:
    """The Celery queue that carries one tenant's completion jobs."""
    return f"{TENANT_QUEUE_PREFIX}{slug}"


def task_routes() -> dict[str, dict[str, str]]:
    """Celery `task_routes` for the fixed queues; completions name their queue."""
    return {name.value: {"queue": queue.value} for name, queue in TASK_QUEUE.items()}
