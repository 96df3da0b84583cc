"""Thin task adapters: parse arguments, call one plain function with the few of
the process's resources it uses (workers.runtime.process)."""

from typing import Any
from uuid import UUID

import httpx
from celery import Task

from shared.queues import TaskName
from shared.routing.router import RoutingDefaults
from workers.maintenance import (
    batches,
    budget_alerts,
    cost_reconciliation,
    expired_files,
    sweeper,
    upstream_check,
    upstream_cleanup,
)
from workers.maintenance.catalog_sync import sync_catalog_when_due
from workers.maintenance.discount_lane import (
    DiscountConfig,
    DiscountDeps,
    InFlightCaps,
    callback_url,
)
from workers.maintenance.discount_submission import submit_discount_lines
from workers.maintenance.provisioned_keys import sync_provisioned_keys
from workers.maintenance.upstream_polling import (
    PollSchedule,
    follow_upstream_batches,
)
from workers.openrouter.batches import BatchApi
from workers.openrouter.key_provisioning import ProvisioningApi
from workers.openrouter.keys import open_tenant_keys
from workers.runtime.celery_app import CATALOG_MAX_AGE_S, app
from workers.runtime.process import WorkerProcess, provider_of
from workers.webhooks import delivery


class BrokerTask(Task[Any, Any]):
    """A task with the process's resources at hand."""

    @property
    def process(self) -> WorkerProcess:
        """The process's resources, built on first use."""
        return provider_of(self.app).get()


@app.task(
    bind=True,
    base=BrokerTask,
    name=TaskName.RUN_COMPLETION.value,
    # Most messages never reach this function: the consumer starts their jobs on
    # the loop itself (workers.runtime.consumer); the rest come here.
    Strategy="workers.runtime.consumer:completion_strategy",
)
def run_completion(self: BrokerTask, *job_ids: str) -> None:
    """Start the message's completion jobs (one, or a group a batch submitted
    together, in order) and return once Postgres holds their claims.

    The task does not wait for the whole job: it returns (and Celery acks) as soon
    as the claim (status `running`, claim token, lease) is committed; the call and
    its writes go on on the process's event loop, where hundreds of calls share one
    thread instead of holding a thread each.
    Nothing is lost by acking early: if this process dies, the lease expires and
    the sweeper re-sends the job, which the claim makes safe to run twice. (With
    Redis's ack emulation off, the default, a message is gone from Redis once
    fetched; a job whose message dies with a worker before its claim is still
    `queued` in Postgres, and the sweeper re-sends it the same way.) Retries are
    re-published to the tenant's queue by the job itself (workers.jobs.completion);
    when the claim fails (finished, not yet due, held elsewhere) the task returns
    quietly. Waits for an in-flight slot first: HELIXQ_WORKER_INFLIGHT a process.
    A claim that raises leaves the group's later jobs `queued`: the sweeper
    re-sends them like any job whose message was lost.
    """
    process = self.process
    process.loop.run(process.completions.start([UUID(job_id) for job_id in job_ids]))


@app.task(bind=True, base=BrokerTask, name=TaskName.REQUEUE_STALE_JOBS.value)
def requeue_stale_jobs(self: BrokerTask) -> int:
    """Re-send jobs left queued too long or whose lease expired; mark the calls
    their dead workers left `started` as `interrupted`."""
    process = self.process
    settings = process.settings
    return sweeper.requeue_stale_jobs(
        process.sessions,
        process.sender,
        process.redis,
        queued_stale_s=settings.helixq_queued_stale_s,
        lease_s=settings.helixq_job_lease_s,
        batch=settings.helixq_sweep_batch,
    )


@app.task(bind=True, base=BrokerTask, name=TaskName.DELIVER_WEBHOOK.value)
def deliver_webhook(self: BrokerTask, delivery_id: str) -> None:
    """Send one webhook delivery if it is due and unclaimed (safe to run twice)."""
    delivery.deliver(UUID(delivery_id), _delivery_deps(self.process))


@app.task(bind=True, base=BrokerTask, name=TaskName.DELIVER_DUE_WEBHOOKS.value)
def deliver_due_webhooks(self: BrokerTask) -> int:
    """Re-send webhook deliveries whose message may be lost."""
    return delivery.deliver_due(_delivery_deps(self.process))


@app.task(bind=True, base=BrokerTask, name=TaskName.FINISH_BATCHES.value)
def finish_batches(self: BrokerTask) -> int:
    """Expire overdue jobs and end the batches that can end."""
    process = self.process
    return batches.finish_batches(
        process.sessions, process.deliveries, objects=process.object_store
    )


@app.task(bind=True, base=BrokerTask, name=TaskName.DELETE_EXPIRED_FILES.value)
def delete_expired_files(self: BrokerTask) -> int:
    """Reclaim the space of files past their expiry."""
    process = self.process
    return expired_files.delete_expired_files(
        process.sessions, objects=process.object_store
    )


@app.task(bind=True, base=BrokerTask, name=TaskName.CHECK_BUDGET_ALERTS.value)
def check_budget_alerts(self: BrokerTask) -> int:
    """Fire the budget thresholds tenants reached this period (once each)."""
    process = self.process
    fired = budget_alerts.check_budget_alerts(
        process.sessions, process.redis, process.deliveries
    )
    return len(fired)


@app.task(bind=True, base=BrokerTask, name=TaskName.SYNC_MODEL_CATALOG.value)
def sync_model_catalog(self: BrokerTask) -> int:
    """Refresh the model catalog and its prices from OpenRouter's `/models`, unless
    it was refreshed within CATALOG_MAX_AGE_S; how many models are listed."""
    process = self.process
    settings = process.settings
    with httpx.Client(timeout=settings.openrouter_timeout) as client:
        result = sync_catalog_when_due(
            process.sessions,
            client,
            settings.openrouter_base_url,
            process.redis,
            max_age_s=CATALOG_MAX_AGE_S,
        )
    return 0 if result is None else result.listed


@app.task(bind=True, base=BrokerTask, name=TaskName.CHECK_UPSTREAM.value)
def check_upstream(self: BrokerTask) -> bool:
    """Check OpenRouter is reachable and the key valid; keep the result in Redis."""
    process = self.process
    with process.sessions() as session:
        tenant_keys = open_tenant_keys(session, process.settings.box())
    return upstream_check.check_upstream(
        process.settings, process.redis, tenant_keys=tenant_keys
    ).ok


@app.task(bind=True, base=BrokerTask, name=TaskName.SYNC_PROVISIONED_KEYS.value)
def sync_provisioned_keys_task(self: BrokerTask) -> int:
    """Keep tenants' provisioned OpenRouter keys in step with their budgets; a
    no-op without OPENROUTER_MANAGEMENT_KEY (and HELIXQ_SECRET_KEY)."""
    process = self.process
    settings = process.settings
    box = settings.box()
    if settings.openrouter_management_key is None or box is None:
        return 0
    with httpx.Client(timeout=settings.openrouter_timeout) as client:
        api = ProvisioningApi(
            client, settings.openrouter_base_url, settings.openrouter_management_key
        )
        done = sync_provisioned_keys(process.sessions, api, box)
    return done.created + done.updated


@app.task(bind=True, base=BrokerTask, name=TaskName.RECONCILE_COSTS.value)
def reconcile_costs_task(self: BrokerTask) -> int:
    """Price estimated calls by OpenRouter's figures; check days against the account."""
    process = self.process
    settings = process.settings
    with httpx.Client(timeout=settings.openrouter_timeout) as client:
        report = cost_reconciliation.reconcile_costs(
            process.sessions,
            client,
            cost_reconciliation.config_from(settings),
            cost_reconciliation.tenants_keys(settings, process.sessions),
        )
    return report.reconciled + report.attributed


@app.task(bind=True, base=BrokerTask, name=TaskName.SUBMIT_DISCOUNT_LINES.value)
def submit_discount_lines_task(self: BrokerTask) -> int:
    """Send discount-lane lines to OpenRouter's Batch API; reconcile lost answers."""
    process = self.process
    with _batch_http(process) as client:
        return submit_discount_lines(_discount_deps(process, client))


@app.task(bind=True, base=BrokerTask, name=TaskName.FOLLOW_UPSTREAM_BATCHES.value)
def follow_upstream_batches_task(self: BrokerTask) -> int:
    """Cancel the upstream batches of cancelled batches, poll the due ones, store
    the results of those that ended and delete them upstream."""
    process = self.process
    settings = process.settings
    schedule = PollSchedule(
        settings.helixq_discount_poll_first_s, settings.helixq_discount_poll_max_s
    )
    with _batch_http(process) as client:
        deps = _discount_deps(process, client)
        upstream_cleanup.cancel_upstream_batches(deps)
        ended = follow_upstream_batches(deps, schedule)
        upstream_cleanup.delete_stored_upstream_batches(deps)
        return ended


def _discount_deps(process: WorkerProcess, client: httpx.Client) -> DiscountDeps:
    settings = process.settings
    config = DiscountConfig(
        max_requests=settings.helixq_discount_max_requests,
        max_bytes=settings.helixq_discount_max_bytes,
        reconcile_after_s=settings.helixq_discount_reconcile_after_s,
        batch_slug=settings.helixq_discount_batch_slug,
        callback_url=callback_url(settings.helixq_public_url),
        routing=RoutingDefaults.of(settings),
        caps=InFlightCaps(
            batches=settings.helixq_discount_max_batches_in_flight,
            lines=settings.helixq_discount_max_lines_in_flight,
            tenant_batches=settings.helixq_discount_tenant_max_batches_in_flight,
            tenant_lines=settings.helixq_discount_tenant_max_lines_in_flight,
        ),
        delete_stored=settings.helixq_discount_delete_stored,
    )
    api = BatchApi(
        client, settings.helixq_batch_api_url or settings.openrouter_base_url
    )
    return DiscountDeps(
        process.sessions,
        api,
        process.sender,
        config,
        process.redis,
        box=process.settings.box(),
    )


def _batch_http(process: WorkerProcess) -> httpx.Client:
    settings = process.settings
    headers = {"X-OpenRouter-Title": settings.openrouter_app_title}
    if settings.openrouter_api_key is not None:
        key = settings.openrouter_api_key.get_secret_value()
        headers["Authorization"] = f"Bearer {key}"
    return httpx.Client(timeout=settings.openrouter_timeout, headers=headers)


def _delivery_deps(process: WorkerProcess) -> delivery.DeliveryDeps:
    # Real transactions: recording a try and disabling its endpoint go together.
    return delivery.DeliveryDeps(
        sessions=process.sessions,
        settings=process.settings,
        sender=process.deliveries,
        metrics=process.redis,
    )
