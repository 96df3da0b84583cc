"""Sending work to the workers. The API knows tasks only by name (`TaskName`)."""

import base64
import json
import socket
import uuid
from collections.abc import Sequence
from enum import IntEnum
from typing import Any, Protocol
from uuid import UUID

import anyio.to_thread
from celery import Celery
from redis.asyncio import Redis

from shared.queues import TaskName, task_routes, tenant_queue

# kombu's Redis transport keeps one list per priority step: `<queue>\x06\x16<step>`,
# consumed in step order, 0 first.
PRIORITY_SEPARATOR = "\x06\x16"
PUBLISH_CHUNK = 2000  # messages an LPUSH
# Jobs a batch's message carries. Small against a worker's in-flight slots (400),
# large enough that Celery's fixed cost of a message is paid once for many jobs. Batch
# messages compete only with each other (their priority comes after every other),
# so tenants' batches still share the workers message by message.
MESSAGE_GROUP = 16


class Priority(IntEnum):
    INTERACTIVE = 0  # a caller is waiting on the HTTP connection
    JOB = 3
    BATCH = 6


class Enqueuer(Protocol):
    async def enqueue_completion(
        self, job_id: UUID, tenant_slug: str, priority: Priority = Priority.JOB
    ) -> None: ...

    async def enqueue_completions(
        self, job_ids: Sequence[UUID], tenant_slug: str, priority: Priority
    ) -> None: ...

    async def close(self) -> None: ...


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
        self._redis = Redis.from_url(broker_url)

    async def enqueue_completion(
        self, job_id: UUID, tenant_slug: str, priority: Priority = Priority.JOB
    ) -> None:
        """Publish after the job row is committed; the message carries only the id."""
        await anyio.to_thread.run_sync(
            self._send, str(job_id), tenant_queue(tenant_slug), int(priority)
        )

    def _send(self, job_id: str, queue: str, priority: int) -> None:
        self._app.send_task(
            TaskName.RUN_COMPLETION.value,
            args=[job_id],
            task_id=job_id,
            queue=queue,
            priority=priority,
            retry=False,
        )

    async def enqueue_completions(
        self, job_ids: Sequence[UUID], tenant_slug: str, priority: Priority
    ) -> None:
        """Publish many jobs: MESSAGE_GROUP ids a message (a worker pays Celery's
        fixed cost once per message, not per job), with pipelined LPUSHes (one
        round trip per chunk, where `send_task` builds and sends each message alone)."""
        queue = tenant_queue(tenant_slug)
        key = redis_list_key(queue, int(priority))
        groups = [
            job_ids[start : start + MESSAGE_GROUP]
            for start in range(0, len(job_ids), MESSAGE_GROUP)
        ]
        for start in range(0, len(groups), PUBLISH_CHUNK):
            messages = [
                json.dumps(completion_message(group, queue, priority))
                for group in groups[start : start + PUBLISH_CHUNK]
            ]
            await self._redis.lpush(key, *messages)

    async def close(self) -> None:
        self._app.close()
        await self._redis.aclose()


def redis_list_key(queue: str, priority: int) -> str:
    return queue if priority == 0 else f"{queue}{PRIORITY_SEPARATOR}{priority}"


def completion_message(
    job_ids: Sequence[UUID], queue: str, priority: int
) -> dict[str, Any]:
    """The Celery protocol-2 message `send_task` would build for run_completion
    with `job_ids` as its arguments; the message is named after the first job."""
    task_id = str(job_ids[0])
    args = [str(job_id) for job_id in job_ids]
    body = [
        args,
        {},
        {"callbacks": None, "errbacks": None, "chain": None, "chord": None},
    ]
    return {
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": TaskName.RUN_COMPLETION.value,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": repr(args),
            "kwargsrepr": "{}",
            "origin": f"helixq-api@{socket.gethostname()}",
            "ignore_result": True,
        },
        "properties": {
            "correlation_id": task_id,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": priority,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
