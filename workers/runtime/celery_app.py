"""The Celery app, its queues and reliability flags.

The one module that builds an object at import, because the Celery CLI needs `app`
(`celery -A workers.runtime.celery_app worker`). It reads only the broker URL and opens
nothing; everything else is built lazily in the worker (WorkerProcess).
"""

from typing import Any

from celery import Celery, signals
from kombu import Exchange
from kombu import Queue as KombuQueue

from shared.queues import Queue, TaskName, task_routes
from shared.redis_servers import celery_broker
from shared.settings import load_settings
from shared.task_messages import TRANSPORT_OPTIONS
from workers.runtime.heartbeat import HeartbeatStep
from workers.runtime.job_sender import CeleryJobSender
from workers.runtime.logging_config import configure_logging
from workers.runtime.process import ProcessProvider, WorkerProcess, build_process
from workers.runtime.settings import DEFAULT_CONCURRENCY, BrokerSettings, WorkerSettings
from workers.runtime.tenant_queues import TenantQueuesStep
from workers.webhooks.sender import CeleryDeliverySender

# With HELIXQ_BROKER_ACK_EMULATION=true, a worker holds a message unacknowledged
# while it waits out a retry countdown and until the job's claim is committed;
# Redis hands it to another worker after this long. The entry point checks that the
# settings stay below it. (Off by default: the sweeper re-sends instead.)
VISIBILITY_TIMEOUT_S = 3600
# Kombu's default of 10 Redis connections is too few once many threads publish at
# once (messages were lost and repeated): allow at least one per task thread.
BROKER_MAX_CONNECTIONS = 2 * DEFAULT_CONCURRENCY
# The beat replaces it with HELIXQ_SWEEP_INTERVAL_S (workers.runtime.scheduler).
DEFAULT_SWEEP_INTERVAL_S = 30.0
SWEEP_SCHEDULE_NAME = "requeue-stale-jobs"
# The beat replaces it with HELIXQ_BATCH_SWEEP_INTERVAL_S.
DEFAULT_BATCH_SWEEP_INTERVAL_S = 5.0
BATCH_SWEEP_SCHEDULE_NAME = "finish-batches"
# The beat replaces it with HELIXQ_DISCOUNT_INTERVAL_S.
DEFAULT_DISCOUNT_INTERVAL_S = 5.0
DISCOUNT_SCHEDULE_NAME = "submit-discount-lines"
# Each upstream batch keeps its own backoff (HELIXQ_DISCOUNT_POLL_*): this only
# looks for the ones that are due.
FOLLOW_SCHEDULE_NAME = "follow-upstream-batches"
# run_beat replaces it with HELIXQ_COST_RECONCILE_INTERVAL_S. Each attempt keeps
# its own backoff (HELIXQ_COST_CHECK_*): this only looks for the ones that are due.
DEFAULT_RECONCILE_INTERVAL_S = 30.0
RECONCILE_SCHEDULE_NAME = "reconcile-costs"
# A delivery whose message was lost is re-sent within this long plus the sweep's grace.
DUE_WEBHOOKS_INTERVAL_S = 15.0
# Often enough that /readyz reads a check younger than its 3 min staleness limit.
UPSTREAM_CHECK_INTERVAL_S = 60.0
PROVISIONED_KEYS_SCHEDULE_NAME = "sync-provisioned-keys"
DEFAULT_KEY_SYNC_INTERVAL_S = 30.0
# Prices change rarely: the catalog is synced once an hour. Beat asks every
# minute, so that a failed sync, or one whose message a dead worker took with it,
# is tried again within the minute (workers.maintenance.catalog_sync).
CATALOG_MAX_AGE_S = 3600.0
CATALOG_SYNC_INTERVAL_S = 60.0
# Expired files are already invisible to the API; this only reclaims their space.
EXPIRED_FILES_INTERVAL_S = 600.0
BUDGET_ALERTS_INTERVAL_S = 30.0  # how late a budget alert may be
# Sent as a beat takes the lead too (workers.runtime.scheduler), so that prices
# are known and /readyz reads a fresh upstream check from the first seconds
# instead of after a minute (or an hour).
SENT_AT_LEADERSHIP = (TaskName.SYNC_MODEL_CATALOG, TaskName.CHECK_UPSTREAM)


class HelixqCelery(Celery):
    """Celery carrying the process's lazily built WorkerProcess."""

    worker_process: ProcessProvider


def create_app() -> HelixqCelery:
    """The worker-side Celery app: explicit queues, late acks, JSON only."""
    broker = load_settings(BrokerSettings)
    broker_url, server_options = celery_broker(broker.redis_url)
    app = HelixqCelery("helixq", broker=broker_url, include=["workers.runtime.tasks"])
    app.worker_process = ProcessProvider(lambda: _process_from_environment(app))
    app.conf.update(
        task_queues=[
            KombuQueue(queue.value, Exchange(queue.value), routing_key=queue.value)
            for queue in Queue
        ],
        task_routes=task_routes(),
        task_default_queue=Queue.MAINTENANCE.value,
        task_acks_late=True,  # ack after the claim (workers.runtime.tasks)
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # calls are long: do not hoard messages
        task_ignore_result=True,  # job state lives in Postgres
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_transport_options={
            **TRANSPORT_OPTIONS,  # the priority lists the API writes to
            **server_options,  # the master's name, with Sentinels
            "visibility_timeout": VISIBILITY_TIMEOUT_S,
            "max_connections": BROKER_MAX_CONNECTIONS,
            # Round robin between tenant queues, by the tenants' weights.
            "queue_order_strategy": "workers.runtime.weighted_cycle:WeightedCycle",
        },
        broker_pool_limit=64,  # producers for retries and the sweeper's re-sends
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,  # configure_logging owns the root logger
        beat_schedule={
            SWEEP_SCHEDULE_NAME: {
                "task": TaskName.REQUEUE_STALE_JOBS.value,
                "schedule": DEFAULT_SWEEP_INTERVAL_S,
            },
            BATCH_SWEEP_SCHEDULE_NAME: {
                "task": TaskName.FINISH_BATCHES.value,
                "schedule": DEFAULT_BATCH_SWEEP_INTERVAL_S,
            },
            DISCOUNT_SCHEDULE_NAME: {
                "task": TaskName.SUBMIT_DISCOUNT_LINES.value,
                "schedule": DEFAULT_DISCOUNT_INTERVAL_S,
            },
            FOLLOW_SCHEDULE_NAME: {
                "task": TaskName.FOLLOW_UPSTREAM_BATCHES.value,
                "schedule": DEFAULT_DISCOUNT_INTERVAL_S,
            },
            RECONCILE_SCHEDULE_NAME: {
                "task": TaskName.RECONCILE_COSTS.value,
                "schedule": DEFAULT_RECONCILE_INTERVAL_S,
            },
            "deliver-due-webhooks": {
                "task": TaskName.DELIVER_DUE_WEBHOOKS.value,
                "schedule": DUE_WEBHOOKS_INTERVAL_S,
            },
            "check-upstream": {
                "task": TaskName.CHECK_UPSTREAM.value,
                "schedule": UPSTREAM_CHECK_INTERVAL_S,
            },
            "sync-model-catalog": {
                "task": TaskName.SYNC_MODEL_CATALOG.value,
                "schedule": CATALOG_SYNC_INTERVAL_S,
            },
            PROVISIONED_KEYS_SCHEDULE_NAME: {
                "task": TaskName.SYNC_PROVISIONED_KEYS.value,
                "schedule": DEFAULT_KEY_SYNC_INTERVAL_S,
            },
            "delete-expired-files": {
                "task": TaskName.DELETE_EXPIRED_FILES.value,
                "schedule": EXPIRED_FILES_INTERVAL_S,
            },
            "check-budget-alerts": {
                "task": TaskName.CHECK_BUDGET_ALERTS.value,
                "schedule": BUDGET_ALERTS_INTERVAL_S,
            },
        },
    )
    app.steps["consumer"].add(TenantQueuesStep)
    app.steps["consumer"].add(HeartbeatStep)
    return app


def _process_from_environment(app: Celery) -> WorkerProcess:
    return build_process(
        load_settings(WorkerSettings),
        sender=CeleryJobSender(app),
        deliveries=CeleryDeliverySender(app),
    )


app = create_app()


@signals.setup_logging.connect
def _setup_logging(loglevel: Any = "INFO", **_: Any) -> None:
    # Connecting here also stops Celery from installing its own handlers.
    configure_logging(loglevel or "INFO")


@signals.worker_process_shutdown.connect
@signals.worker_shutdown.connect
def _close_process(**_: Any) -> None:
    app.worker_process.close()
