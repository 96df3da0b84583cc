"""Redis commands of many jobs on one event loop, sent together.

Hundreds of jobs in flight each talk to Redis a few times (the token take before a
call, the report after it). Sent one by one, every command costs a pooled
connection, a socket write and a read, on the loop that also drives the calls. A
`RedisBatcher` queues the commands of every job and sends them in one pipeline (no
transaction): the first one at once (on the loop's next turn), and while a round
trip is under way, whatever queues meanwhile goes in the next. A lone job waits for
no one; under load one round trip carries the commands of many jobs.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

logger = logging.getLogger(__name__)

# What adds a caller's commands to the shared pipeline.
Fill = Callable[[Pipeline], object]
REDIS_ERRORS = (redis.exceptions.RedisError, OSError)


@dataclass(frozen=True, slots=True)
class _Waiter:
    """One caller's commands: pipeline[first:last], and where their replies go."""

    replies: "asyncio.Future[list[Any]]"
    first: int
    last: int


class RedisBatcher:
    """Sends the commands queued by coroutines on one loop in shared round trips."""

    def __init__(self, client: "Redis") -> None:
        self._client = client
        self._pipe: Pipeline | None = None
        self._waiters: list[_Waiter] = []
        self._sending: asyncio.Task[None] | None = None

    async def execute(self, fill: Fill) -> list[Any]:
        """Queue the commands `fill` adds and wait for their replies, in order.
        Raises the first error among them, or the round trip's (RedisError, OSError)."""
        if self._pipe is None:
            self._pipe = self._client.pipeline(transaction=False)
        first = len(self._pipe)
        try:
            fill(self._pipe)
        except BaseException:
            del self._pipe.command_stack[first:]  # nothing half-queued is sent
            raise
        if len(self._pipe) == first:
            return []
        replies: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiters.append(_Waiter(replies, first, len(self._pipe)))
        if self._sending is None:
            # Starts on the loop's next turn: the jobs this turn wakes join it.
            self._sending = asyncio.create_task(self._send_all())
        return await replies

    async def send(self, fill: Fill, *, what: str) -> None:
        """`execute` for writes that must never fail a job (counters, notices):
        an error is logged and dropped."""
        try:
            await self.execute(fill)
        except REDIS_ERRORS as error:
            logger.warning("%s not sent: %r", what, error)

    async def drain(self) -> None:
        """Wait until every queued command is sent (at shutdown)."""
        if self._sending is not None:
            await asyncio.shield(self._sending)

    async def _send_all(self) -> None:
        try:
            while self._waiters:
                pipe, waiters = self._pipe, self._waiters
                self._pipe, self._waiters = None, []
                assert pipe is not None
                await _round_trip(pipe, waiters)
        finally:
            self._sending = None


async def _round_trip(pipe: Pipeline, waiters: list[_Waiter]) -> None:
    try:
        replies = await pipe.execute(raise_on_error=False)
    except REDIS_ERRORS as error:
        for waiter in waiters:
            if not waiter.replies.done():
                waiter.replies.set_exception(error)
        return
    except BaseException as error:  # cancelled at shutdown: nobody waits forever
        for waiter in waiters:
            if not waiter.replies.done():
                waiter.replies.set_exception(
                    redis.exceptions.ConnectionError(f"round trip aborted: {error!r}")
                )
        raise
    for waiter in waiters:
        if waiter.replies.done():  # its caller was cancelled
            continue
        mine = replies[waiter.first : waiter.last]
        failed = next((reply for reply in mine if isinstance(reply, Exception)), None)
        if failed is None:
            waiter.replies.set_result(mine)
        else:
            waiter.replies.set_exception(failed)
