"""Requests of many coroutines on one event loop, served together in rounds.

Many coroutines on one loop (a worker's jobs in flight, an API process's
requests) each make the same small requests (a Redis command, an INSERT). Served
one by one, each pays a round trip's fixed cost, and Postgres a commit. A
`Coalescer` serves the first request at once (on the loop's next turn) and, while
a round is under way, gathers the requests made meanwhile into the next: a lone
request waits for no one, and under load one round serves many.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

RequestT = TypeVar("RequestT")
ReplyT = TypeVar("ReplyT")

# Serves a round: one reply (or the error) per request, in order.
Round = Callable[[Sequence[RequestT]], Awaitable[Sequence[ReplyT | BaseException]]]


@dataclass(frozen=True, slots=True)
class _Pending(Generic[RequestT, ReplyT]):
    request: RequestT
    reply: "asyncio.Future[ReplyT]"


class Coalescer(Generic[RequestT, ReplyT]):
    """Serves requests in shared rounds, one round under way at a time."""

    def __init__(
        self, serve: Round[RequestT, ReplyT], *, lone_inline: bool = False
    ) -> None:
        """`lone_inline`: a request made while nothing is under way is served at
        once in the caller's own task, a round of one, saving the task and the
        loop turn a round costs (requests made meanwhile form the next rounds)."""
        self._serve = serve
        self._pending: list[_Pending[RequestT, ReplyT]] = []
        self._serving: asyncio.Task[None] | None = None
        self._lone_inline = lone_inline
        self._inline_under_way = False

    async def submit(self, request: RequestT) -> ReplyT:
        """Queue `request` for the next round and wait for its reply."""
        if self._lone_inline and self._serving is None and not self._inline_under_way:
            return await self._serve_inline(request)
        reply: asyncio.Future[ReplyT] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(request, reply))
        if self._serving is None:
            # Starts on the loop's next turn: the requests this turn makes join it.
            self._serving = asyncio.create_task(self._serve_all())
        return await reply

    async def _serve_inline(self, request: RequestT) -> ReplyT:
        self._inline_under_way = True
        try:
            [reply] = await self._serve([request])
        finally:
            self._inline_under_way = False
        if isinstance(reply, BaseException):
            raise reply
        return reply

    async def drain(self) -> None:
        """Wait until every queued request is served (at shutdown)."""
        if self._serving is not None:
            await asyncio.shield(self._serving)

    async def _serve_all(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._serve_round(batch)
        finally:
            self._serving = None

    async def _serve_round(self, batch: list[_Pending[RequestT, ReplyT]]) -> None:
        try:
            replies = await self._serve([pending.request for pending in batch])
        except Exception as error:
            for pending in batch:
                _settle(pending.reply, error)
            return
        except BaseException:  # cancelled at shutdown: so are its waiters
            for pending in batch:
                pending.reply.cancel()
            raise
        for pending, reply in zip(batch, replies, strict=True):
            _settle(pending.reply, reply)


def _settle(future: "asyncio.Future[ReplyT]", reply: "ReplyT | BaseException") -> None:
    if future.done():  # its caller was cancelled
        return
    if isinstance(reply, BaseException):
        future.set_exception(reply)
    else:
        future.set_result(reply)
