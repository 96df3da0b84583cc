"""Follow a streaming job: its live events from the Redis Stream the worker writes
(shared.job_streams), and its row in Postgres for what the stream cannot say.

The stream carries the chunks as they arrive; Postgres stays the truth for how
the job ended. A job that ends without a streamed call (it could not be routed,
its budget refused it, it expired in the queue) or whose stream has expired is
read from its row, re-checked every RECHECK_S while the stream is quiet.
"""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast
from uuid import UUID

from redis.asyncio import Redis

from broker_api.db_pool import Pool
from broker_api.deps import Caller
from broker_api.jobs.service import read_job
from broker_api.jobs.views import JobView
from shared.job_streams import EntryKind, read_entry
from shared.jobs import JobStatus
from shared.redis_keys import JOB_STREAM_TTL_S, job_stream, job_stream_cancel

RECHECK_S = 2.0
READ_COUNT = 256


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One event of a followed job. `kind` None: nothing happened for a
    keep-alive interval. `view`: the job's row, once it is terminal."""

    kind: EntryKind | None
    data: bytes = b""
    view: JobView | None = None


class JobFollower:
    """The live events of one job, read from one API process."""

    def __init__(
        self,
        *,
        redis: "Redis",
        pool: Pool,
        caller: Caller,
        job_id: UUID,
        keepalive_s: float,
    ) -> None:
        self._redis = redis
        self._pool = pool
        self._caller = caller
        self.job_id = job_id
        self._key = job_stream(str(job_id))
        self._keepalive_ms = max(1, round(keepalive_s * 1000))
        self._last_id = b"0-0"

    async def events(self) -> AsyncIterator[LiveEvent]:
        """Every event from the job's first, then keep-alives while it is quiet;
        ends after its `end` entry, or with the row of a job found terminal (read
        at the first quiet interval, then every RECHECK_S)."""
        checked_s: float | None = None
        while True:
            events = await self._read(block_ms=self._keepalive_ms)
            for event in events:
                yield event
                if event.kind is EntryKind.END:
                    return
            if events:
                continue
            if checked_s is None or time.monotonic() - checked_s >= RECHECK_S:
                checked_s = time.monotonic()
                view = await self.terminal_view()
                if view is not None:
                    async for event in self._drained(view):
                        yield event
                    return
            yield LiveEvent(None)

    async def _drained(self, view: JobView) -> AsyncIterator[LiveEvent]:
        """What the stream still holds of a terminal job, then its end: every
        chunk was written before the job's end was committed."""
        for event in await self._read(block_ms=None):
            yield event
            if event.kind is EntryKind.END:
                return
        yield LiveEvent(EntryKind.END, view=view)

    async def terminal_view(self) -> JobView | None:
        """The job's row if it is terminal."""
        view = await read_job(self._pool, self._caller, self.job_id)
        return view if JobStatus(view.status).is_terminal else None

    async def mark_client_gone(self) -> None:
        """Tell the worker running the job that its client left."""
        await self._redis.set(
            job_stream_cancel(str(self.job_id)), b"1", ex=JOB_STREAM_TTL_S
        )

    async def _read(self, *, block_ms: int | None) -> list[LiveEvent]:
        # RESP2 replies: [[key, [(id, fields), ...]]]
        reply = cast(
            list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]],
            await self._redis.xread(
                {self._key: self._last_id}, count=READ_COUNT, block=block_ms
            ),
        )
        events = []
        for _key, entries in reply or []:
            for entry_id, fields in entries:
                self._last_id = entry_id
                kind, data = read_entry(fields)
                events.append(LiveEvent(kind, data))
        return events
