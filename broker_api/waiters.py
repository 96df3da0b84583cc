"""Wake requests that wait for a job to finish (long poll, synchronous completions).

One Redis subscription per API process fans the workers' "job finished" notices out
to in-process events; callers still re-read Postgres, which stays the truth, and
re-check it every few seconds in case a notice was lost.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from uuid import UUID

from redis.asyncio import Redis

from shared.redis_keys import JOBS_FINISHED_CHANNEL

logger = logging.getLogger(__name__)

RECHECK_S = 2.0  # a lost notice delays a waiter by at most this much
POLL_S = 0.5


class JobWaiters:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._events: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="job-waiters")

    async def stop(self) -> None:
        if self._task is None:
            return
        # redis-py can swallow a cancellation that lands while it connects; the
        # flag ends the loop at its next poll in that case.
        self._stopping = True
        self._task.cancel()
        await asyncio.wait({self._task}, timeout=POLL_S * 4)

    async def wait(self, job_id: UUID, timeout_s: float) -> None:
        """Return when the job may have finished, or after `timeout_s`."""
        event = asyncio.Event()
        key = str(job_id)
        self._events[key].add(event)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=min(timeout_s, RECHECK_S))
        finally:
            self._events[key].discard(event)
            if not self._events[key]:
                del self._events[key]

    def notify(self, job_id: str) -> None:
        for event in self._events.get(job_id, ()):
            event.set()

    async def _listen(self) -> None:
        while not self._stopping:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(JOBS_FINISHED_CHANNEL)
                    while not self._stopping:
                        message = await pubsub.get_message(timeout=POLL_S)
                        if message is not None:
                            self.notify(message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis away: waiters fall back to re-reading Postgres every RECHECK_S.
                logger.warning("job notifications unavailable; retrying", exc_info=True)
                await asyncio.sleep(1.0)
