"""Sending work to the workers. The API knows tasks only by name (`TaskName`)."""

from typing import Protocol
from uuid import UUID

import anyio.to_thread
from celery import Celery

from shared.queues import TaskName, task_routes, tenant_queue


class Enqueuer(Protocol):
    async def enqueue_completion(self, job_id: UUID, tenant_slug: str) -> None: ...

    def close(self) -> None: ...


def make_sender(broker_url: str) -> Celery:
    """A send-only Celery app: no worker code is ever imported by the API."""
    app = Celery("helixq-api", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_routes=task_routes(),
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # Publishing must not hang a request when Redis is away; the sweeper re-sends.
        broker_transport_options={"max_retries": 1, "socket_timeout": 5},
    )
    return app


class CeleryEnqueuer:
    def __init__(self, broker_url: str) -> None:
        self._app = make_sender(broker_url)

    async def enqueue_completion(self, job_id: UUID, tenant_slug: str) -> None:
        """Publish after the job row is committed; the message carries only the id."""
        await anyio.to_thread.run_sync(
            self._send, str(job_id), tenant_queue(tenant_slug)
        )

    def _send(self, job_id: str, queue: str) -> None:
        self._app.send_task(
            TaskName.RUN_COMPLETION.value,
            args=[job_id],
            task_id=job_id,
            queue=queue,
            retry=False,
        )

    def close(self) -> None:
        self._app.close()
