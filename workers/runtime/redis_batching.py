"""Redis commands of many jobs on one event loop, sent together.

Every job in flight talks to Redis a few times (the token take before a call, the
report after it). A `RedisBatcher` sends the commands of every job waiting in one
pipeline (no transaction), in rounds (shared.coalescing): one socket write and
one read for many jobs instead of a pooled connection, a write and a read each.
"""

import logging
from collections.abc import Callable, Sequence
from typing import Any

import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from shared.coalescing import Coalescer

logger = logging.getLogger(__name__)

# What adds a caller's commands to the shared pipeline.
Fill = Callable[[Pipeline], object]
REDIS_ERRORS = (redis.exceptions.RedisError, OSError)


class RedisBatcher:
    """Sends the commands queued by coroutines on one loop in shared round trips."""

    def __init__(self, client: "Redis") -> None:
        self._client = client
        self._rounds: Coalescer[Fill, list[Any]] = Coalescer(self._round_trip)

    async def execute(self, fill: Fill) -> list[Any]:
        """Send the commands `fill` adds and return their replies, in order.
        Raises the first error among them, or the round trip's (RedisError, OSError)."""
        return await self._rounds.submit(fill)

    async def eval(
        self, script: str, keys: Sequence[str], args: Sequence[str | int]
    ) -> Any:
        """Run a Lua script and return its reply. EVAL with the text: a pipeline
        cannot retry an EVALSHA the server has forgotten, and the scripts are short."""
        (reply,) = await self.execute(
            lambda pipe: pipe.eval(script, len(keys), *keys, *args)
        )
        return reply

    async def send(self, fill: Fill, *, what: str) -> None:
        """`execute` for writes that must never fail a job (counters, notices):
        an error is logged and dropped."""
        try:
            await self.execute(fill)
        except REDIS_ERRORS as error:
            logger.warning("%s not sent: %r", what, error)

    async def drain(self) -> None:
        """Wait until every queued command is sent (at shutdown)."""
        await self._rounds.drain()

    async def _round_trip(
        self, fills: Sequence[Fill]
    ) -> list[list[Any] | BaseException]:
        pipe = self._client.pipeline(transaction=False)
        spans: list[tuple[int, int] | BaseException] = []
        for fill in fills:
            first = len(pipe)
            try:
                fill(pipe)
            except Exception as error:
                del pipe.command_stack[first:]  # nothing half-queued is sent
                spans.append(error)
            else:
                spans.append((first, len(pipe)))
        replies = await pipe.execute(raise_on_error=False) if len(pipe) else []
        return [
            span if isinstance(span, BaseException) else _mine(replies, *span)
            for span in spans
        ]


def _mine(replies: list[Any], first: int, last: int) -> list[Any] | BaseException:
    mine = replies[first:last]
    failed = next((reply for reply in mine if isinstance(reply, Exception)), None)
    return mine if failed is None else failed
