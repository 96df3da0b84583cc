"""Thin task adapters: parse arguments, call one plain function."""

from typing import Any
from uuid import UUID

from celery import Task

from shared.queues import TaskName
from workers import completion, sweeper
from workers.celery_app import app
from workers.context import WorkerContext, provider_of
from workers.job_sender import CeleryJobSender


class BrokerTask(Task[Any, Any]):
    """A task with the process's WorkerContext at hand."""

    @property
    def context(self) -> WorkerContext:
        """The process's WorkerContext, built on first use."""
        return provider_of(self.app).get()


@app.task(bind=True, base=BrokerTask, name=TaskName.RUN_COMPLETION.value)
def run_completion(self: BrokerTask, job_id: str) -> None:
    """Start one completion job and return once Postgres holds its claim.

    Unlike STYLE §5's "the task waits for the whole job", the task returns (and
    Celery acks) as soon as the claim (status `running`, claim token, lease) is
    committed; the call and its writes go on on the process's event loop. Holding
    a thread per call cost a Celery worker ~1.7 ms CPU a job (docs/benchmarks.md).
    Nothing is lost by acking early: if this process dies, the lease expires and
    the sweeper re-sends the job, which the claim makes safe to run twice. (With
    Redis's ack emulation off, the default, a message is gone from Redis once
    fetched; a job whose message dies with a worker before its claim is still
    `queued` in Postgres, and the sweeper re-sends it the same way.) Retries are
    re-published to the tenant's queue by the job itself (workers.completion); when
    the claim fails (finished, not yet due, held elsewhere) the task returns
    quietly. Waits for an in-flight slot first: HELIXQ_WORKER_INFLIGHT a process.
    """
    completion.start_in_flight(UUID(job_id), self.context)


@app.task(bind=True, base=BrokerTask, name=TaskName.REQUEUE_STALE_JOBS.value)
def requeue_stale_jobs(self: BrokerTask) -> int:
    """Re-send jobs left queued too long or whose lease expired."""
    settings = self.context.settings
    return sweeper.requeue_stale_jobs(
        self.context.sessions,
        CeleryJobSender(self.app),
        queued_stale_s=settings.helixq_queued_stale_s,
        batch=settings.helixq_sweep_batch,
    )
