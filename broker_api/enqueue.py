"""Sending work to the workers. The API knows tasks only by name (`TaskName`), and
writes run_completion messages (a job's, a batch's) in the wire format of
shared.task_messages."""

import json
import socket
from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

import anyio.to_thread
from celery import Celery

from shared.coalescing import Coalescer
from shared.queues import TaskName, task_routes, tenant_queue
from shared.redis_servers import async_redis_client, celery_broker
from shared.task_messages import (
    TRANSPORT_OPTIONS,
    Priority,
    completion_message,
    redis_list_key,
)

PUBLISH_CHUNK = 2000  # messages an LPUSH
PUBLISH_TIMEOUT_S = 5
# Jobs a batch's message carries. Small against a worker's in-flight slots, large
# enough that Celery's fixed cost per message is paid once for many jobs. Batch
# messages compete only with each other (their priority comes after every other),
# so tenants' batches still share the workers message by message.
MESSAGE_GROUP = 16


class Enqueuer(Protocol):
    async def enqueue_completion(
        self, job_id: UUID, tenant_slug: str, priority: Priority = Priority.JOB
    ) -> None: ...

    async def enqueue_completions(
        self, job_ids: Sequence[UUID], tenant_slug: str, priority: Priority
    ) -> None: ...

    async def enqueue_webhook(self, delivery_id: UUID) -> None: ...

    async def enqueue_upstream_poll(self) -> None: ...

    async def close(self) -> None: ...


def make_sender(broker_url: str) -> Celery:
    """A send-only Celery app: no worker code is ever imported by the API."""
    broker, server_options = celery_broker(broker_url)
    app = Celery("helixq-api", broker=broker, set_as_current=False)
    app.conf.update(
        task_routes=task_routes(),
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # Publishing must not hang a request when Redis is away; the sweeper re-sends.
        broker_transport_options={
            **TRANSPORT_OPTIONS,
            **server_options,
            "max_retries": 1,
            "socket_timeout": 5,
        },
    )
    return app


class CeleryEnqueuer:
    def __init__(self, broker_url: str) -> None:
        self._app = make_sender(broker_url)
        # Publishing must not hang a request when Redis is away; the sweeper
        # re-sends what was not published.
        self._redis = async_redis_client(
            broker_url,
            socket_timeout=PUBLISH_TIMEOUT_S,
            socket_connect_timeout=PUBLISH_TIMEOUT_S,
        )
        self._pushes: Coalescer[tuple[str, str], object] = Coalescer(
            self._push_round, lone_inline=True
        )
        self._origin = f"helixq-api@{socket.gethostname()}"

    async def enqueue_completion(
        self, job_id: UUID, tenant_slug: str, priority: Priority = Priority.JOB
    ) -> None:
        """Publish after the job row is committed; the message carries only the id.

        An LPUSH, on the event loop, of the message `send_task` would write
        (`send_task` blocks: the thread it needed and kombu's publishing cost
        more CPU than the rest of a submission), pipelined with those of the
        submissions made meanwhile (shared.coalescing): one round trip for all."""
        queue = tenant_queue(tenant_slug)
        message = json.dumps(
            completion_message([job_id], queue, int(priority), origin=self._origin)
        )
        await self._pushes.submit((redis_list_key(queue, int(priority)), message))

    async def _push_round(
        self, pushes: Sequence[tuple[str, str]]
    ) -> list[object | BaseException]:
        pipe = self._redis.pipeline(transaction=False)
        for key, message in pushes:
            pipe.lpush(key, message)
        replies: list[object | BaseException] = await pipe.execute(raise_on_error=False)
        return replies

    async def enqueue_completions(
        self, job_ids: Sequence[UUID], tenant_slug: str, priority: Priority
    ) -> None:
        """Publish many jobs: MESSAGE_GROUP ids a message (a worker pays Celery's
        fixed cost once per message, not per job), with pipelined LPUSHes: one
        round trip per chunk, and none of `send_task`'s work per message."""
        queue = tenant_queue(tenant_slug)
        key = redis_list_key(queue, int(priority))
        origin = self._origin
        groups = [
            job_ids[start : start + MESSAGE_GROUP]
            for start in range(0, len(job_ids), MESSAGE_GROUP)
        ]
        for start in range(0, len(groups), PUBLISH_CHUNK):
            messages = [
                json.dumps(completion_message(group, queue, priority, origin=origin))
                for group in groups[start : start + PUBLISH_CHUNK]
            ]
            await self._redis.lpush(key, *messages)

    async def enqueue_webhook(self, delivery_id: UUID) -> None:
        """Publish one webhook delivery (a replay) after its row is committed."""
        await anyio.to_thread.run_sync(self._send_webhook, str(delivery_id))

    def _send_webhook(self, delivery_id: str) -> None:
        # Routed to the webhooks queue by TASK_QUEUE.
        self._app.send_task(
            TaskName.DELIVER_WEBHOOK.value, args=[delivery_id], retry=False
        )

    async def enqueue_upstream_poll(self) -> None:
        """Ask a worker to poll the discount lane's due upstream batches now."""
        await anyio.to_thread.run_sync(self._send_upstream_poll)

    def _send_upstream_poll(self) -> None:
        self._app.send_task(TaskName.FOLLOW_UPSTREAM_BATCHES.value, retry=False)

    async def close(self) -> None:
        self._app.close()
        await self._redis.aclose()
