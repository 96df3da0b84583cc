"""Publishing `run_completion` to a tenant's queue: the sweeper's re-sends and the
worker's retries."""

from typing import Protocol
from uuid import UUID

from celery import Celery

from shared.queues import TaskName


class JobSender(Protocol):
    """Publishes a completion task (Celery in production, a list in tests)."""

    def send(
        self, job_id: UUID, queue: str, *, countdown_s: float | None = None
    ) -> None:
        """Publish one job to `queue`, to run no sooner than `countdown_s` from now."""


class CeleryJobSender:
    """Sends `run_completion` the way the API does: task id = job id. Blocking:
    call it from a thread, never on the event loop."""

    def __init__(self, app: Celery) -> None:
        self._app = app

    def send(
        self, job_id: UUID, queue: str, *, countdown_s: float | None = None
    ) -> None:
        """Publish one job to `queue`, to run no sooner than `countdown_s` from now."""
        self._app.send_task(
            TaskName.RUN_COMPLETION.value,
            args=[str(job_id)],
            task_id=str(job_id),
            queue=queue,
            countdown=countdown_s,
        )
