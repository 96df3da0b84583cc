"""Publishing tasks from the worker's event loop: a job's retry and its webhook
delivery, as the messages `send_task` would write (shared.task_messages), sent
with the other jobs' Redis commands (workers.runtime.redis_batching). The job's
path thus needs no blocking client; the periodic tasks, on Celery's threads,
publish with `send_task` (workers.runtime.job_sender, workers.webhooks.sender).
"""

import json
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID, uuid4

from shared.queues import TASK_QUEUE, TaskName
from shared.task_messages import (
    Message,
    completion_message,
    redis_list_key,
    task_message,
)
from workers.runtime.redis_batching import RedisBatcher

# send_task's priority when none is given: the queue's first list.
DEFAULT_PRIORITY = 0


class TaskPublisher(Protocol):
    """Publishes from the event loop (Redis in production, a list in tests)."""

    async def retry(
        self, job_id: UUID, queue: str, *, countdown_s: float | None
    ) -> None:
        """Publish `run_completion` for the job to `queue`, due in `countdown_s`
        (None: due now)."""

    async def delivery(self, delivery_id: UUID) -> None:
        """Publish `deliver_webhook` for the delivery, due now."""


class RedisTaskPublisher:
    """A TaskPublisher pushing onto kombu's Redis lists itself."""

    def __init__(
        self,
        redis: RedisBatcher,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._redis = redis
        self._clock = clock
        # Celery's own form, `gen<pid>@<host>`: who sent a message, for the curious.
        self._origin = f"gen{os.getpid()}@{socket.gethostname()}"

    async def retry(
        self, job_id: UUID, queue: str, *, countdown_s: float | None
    ) -> None:
        """Publish `run_completion` for the job to `queue`, due in `countdown_s`
        (Celery's timer holds a message with an ETA until then; None: due now)."""
        eta = (
            None
            if countdown_s is None
            else self._clock() + timedelta(seconds=countdown_s)
        )
        message = completion_message(
            [job_id], queue, DEFAULT_PRIORITY, origin=self._origin, eta=eta
        )
        await self._push(queue, message)

    async def delivery(self, delivery_id: UUID) -> None:
        """Publish `deliver_webhook` for the delivery to the webhooks queue."""
        task = TaskName.DELIVER_WEBHOOK
        queue = TASK_QUEUE[task].value
        message = task_message(
            task,
            [str(delivery_id)],
            task_id=str(uuid4()),
            queue=queue,
            origin=self._origin,
        )
        await self._push(queue, message)

    async def _push(self, queue: str, message: Message) -> None:
        key = redis_list_key(queue, DEFAULT_PRIORITY)
        await self._redis.execute(lambda pipe: pipe.lpush(key, json.dumps(message)))
