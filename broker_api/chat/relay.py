"""A streaming chat completion relayed as server-sent events while its job runs.

Each chunk the worker relays is one SSE event, forwarded as it arrives; while the
job waits (queue, rate limits, budget, the model thinking) a `: OPENROUTER
PROCESSING` comment goes out every keep-alive interval, as OpenRouter does. The
usage chunk (with `cost`) comes last, then `data: [DONE]`.

Until the first chunk or the first keep-alive the answer is not started, so a job
that fails by then gets a plain HTTP error, which OpenAI's SDKs raise on; after
that, a failure is OpenRouter's mid-stream error event. A client that leaves is
marked gone, and the worker closes the upstream call (workers.jobs.live_streams).
"""

import asyncio
import logging
from collections.abc import AsyncIterator

from broker_api.jobs.live import JobFollower, LiveEvent
from broker_api.sse import DONE, KEEPALIVE, data_event, ended_without_chunks
from shared.job_streams import EntryKind, JobEnd

logger = logging.getLogger(__name__)

# Marks of clients that left, kept referenced until sent.
_pending_marks: set[asyncio.Task[None]] = set()


class ChatRelay:
    """Turns a followed job's events into the SSE body of its chat completion."""

    def __init__(self, follower: JobFollower) -> None:
        self._follower = follower
        self._events = follower.events()
        self._first: LiveEvent | None = None
        self._has_sent_chunk = False

    async def first_outcome(self) -> LiveEvent:
        """The first event that starts the answer or ends the job (status changes
        are skipped): a chunk, a keep-alive or the end."""
        async for event in self._events:
            if event.kind is not EntryKind.STATUS:
                self._first = event
                return event
        raise RuntimeError("a followed job's events ended without an end")

    async def body(self) -> AsyncIterator[bytes]:
        """The SSE body, from the event `first_outcome` returned."""
        finished = False
        try:
            if self._first is not None:
                for part in await self._render(self._first):
                    yield part
            async for event in self._events:
                for part in await self._render(event):
                    yield part
            finished = True
        finally:
            if not finished:  # the client left (or the server stops)
                task = asyncio.create_task(self._mark_gone())
                _pending_marks.add(task)
                task.add_done_callback(_pending_marks.discard)

    async def _mark_gone(self) -> None:
        try:
            await self._follower.mark_client_gone()
        except Exception:  # Redis away: the call runs to its end, and is paid for
            logger.warning(
                "job %s: client left, upstream call not cancelled",
                self._follower.job_id,
                exc_info=True,
            )

    async def _render(self, event: LiveEvent) -> list[bytes]:
        if event.kind is None:
            return [KEEPALIVE]
        if event.kind is EntryKind.CHUNK:
            self._has_sent_chunk = True
            return [data_event(event.data)]
        if event.kind is EntryKind.END:
            return await self._ending(event)
        return []

    async def _ending(self, event: LiveEvent) -> list[bytes]:
        view = event.view
        if view is None:
            status = JobEnd.decode(event.data).status
            if status == "succeeded" and self._has_sent_chunk:
                return [DONE]
            if status == "cancelled" or self._has_sent_chunk:
                return []  # the error event, if any, was relayed
            view = await self._follower.terminal_view()
        return ended_without_chunks(view) if view is not None else []
