"""Thin task adapters: parse arguments, call one plain function."""

from typing import Any
from uuid import UUID

import httpx
from celery import Task

from shared.queues import TaskName
from workers.jobs import completion
from workers.maintenance import batches, sweeper, upstream_check
from workers.maintenance.catalog_sync import sync_catalog
from workers.runtime.celery_app import app
from workers.runtime.context import WorkerContext, provider_of
from workers.runtime.job_sender import CeleryJobSender
from workers.webhooks import delivery


class BrokerTask(Task[Any, Any]):
    """A task with the process's WorkerContext at hand."""

    @property
    def context(self) -> WorkerContext:
        """The process's WorkerContext, built on first use."""
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
    context = self.context
    context.loop.run(completion.start([UUID(job_id) for job_id in job_ids], context))


@app.task(bind=True, base=BrokerTask, name=TaskName.REQUEUE_STALE_JOBS.value)
def requeue_stale_jobs(self: BrokerTask) -> int:
    """Re-send jobs left queued too long or whose lease expired; mark the calls
    their dead workers left `started` as `interrupted`."""
    settings = self.context.settings
    return sweeper.requeue_stale_jobs(
        self.context.sessions,
        CeleryJobSender(self.app),
        queued_stale_s=settings.helixq_queued_stale_s,
        lease_s=settings.helixq_job_lease_s,
        batch=settings.helixq_sweep_batch,
    )


@app.task(bind=True, base=BrokerTask, name=TaskName.DELIVER_WEBHOOK.value)
def deliver_webhook(self: BrokerTask, delivery_id: str) -> None:
    """Send one webhook delivery if it is due and unclaimed (safe to run twice)."""
    delivery.deliver(UUID(delivery_id), delivery.delivery_deps(self.context))


@app.task(bind=True, base=BrokerTask, name=TaskName.DELIVER_DUE_WEBHOOKS.value)
def deliver_due_webhooks(self: BrokerTask) -> int:
    """Re-send webhook deliveries whose message may be lost."""
    return delivery.deliver_due(delivery.delivery_deps(self.context))


@app.task(bind=True, base=BrokerTask, name=TaskName.FINISH_BATCHES.value)
def finish_batches(self: BrokerTask) -> int:
    """Expire overdue jobs and end the batches that can end."""
    return batches.finish_batches(self.context.transactions, self.context.deliveries)


@app.task(bind=True, base=BrokerTask, name=TaskName.SYNC_MODEL_CATALOG.value)
def sync_model_catalog(self: BrokerTask) -> int:
    """Refresh the model catalog and its prices from OpenRouter's `/models`."""
    ctx = self.context
    with httpx.Client(timeout=ctx.settings.openrouter_timeout) as client:
        result = sync_catalog(
            ctx.transactions, client, ctx.settings.openrouter_base_url
        )
    return result.listed


@app.task(bind=True, base=BrokerTask, name=TaskName.CHECK_UPSTREAM.value)
def check_upstream(self: BrokerTask) -> bool:
    """Check OpenRouter is reachable and the key valid; keep the result in Redis."""
    context = self.context
    return upstream_check.check_upstream(context.settings, context.redis).ok
