"""Thin task adapters: parse arguments, call one plain function, map to retries."""

from typing import Any
from uuid import UUID

from celery import Task

from shared.queues import TaskName
from workers import completion, sweeper
from workers.celery_app import app
from workers.context import WorkerContext, provider_of


class BrokerTask(Task[Any, Any]):
    """A task with the process's WorkerContext at hand."""

    @property
    def context(self) -> WorkerContext:
        """The process's WorkerContext, built on first use."""
        return provider_of(self.app).get()


@app.task(bind=True, base=BrokerTask, name=TaskName.RUN_COMPLETION.value)
def run_completion(self: BrokerTask, job_id: str) -> None:
    """Run one completion job; re-publish itself when the job was released.

    The retry budget is counted in the job row, so Celery's own is unlimited.
    """
    outcome = completion.run(UUID(job_id), self.context)
    if outcome.retry_in_s is not None:
        raise self.retry(countdown=outcome.retry_in_s, max_retries=None)


@app.task(bind=True, base=BrokerTask, name=TaskName.REQUEUE_STALE_JOBS.value)
def requeue_stale_jobs(self: BrokerTask) -> int:
    """Re-send jobs left queued too long or whose lease expired."""
    settings = self.context.settings
    return sweeper.requeue_stale_jobs(
        self.context.sessions,
        sweeper.CeleryJobSender(self.app),
        queued_stale_s=settings.helixq_queued_stale_s,
        batch=settings.helixq_sweep_batch,
    )
