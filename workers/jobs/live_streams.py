"""A streaming job's live events, written to its Redis Stream for the API process
that holds the client's connection (shared.job_streams says what each entry holds).

A Redis Stream per job rather than a pub/sub channel: an API process that starts
reading late (the client of `GET /v1/jobs/{id}/stream`, or a reader between two
reads) still gets every chunk from the first, in order, and the worker never
waits for a reader. Its length is bounded and it expires
(shared.redis_keys.JOB_STREAM_MAX_ENTRIES, JOB_STREAM_TTL_S); Postgres keeps the
assembled answer. Writes are best effort: a lost chunk must not fail a call that
is paid for, and the job's row still gets the whole answer.
"""

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar
from uuid import UUID

from redis.asyncio.client import Pipeline as AsyncPipeline
from redis.typing import EncodableT, FieldT

from shared.job_streams import EntryKind, JobEnd, entry
from shared.redis_keys import (
    JOB_STREAM_MAX_ENTRIES,
    JOB_STREAM_TTL_S,
    job_stream,
    job_stream_cancel,
)
from workers.runtime.redis_batching import REDIS_ERRORS, RedisBatcher

logger = logging.getLogger(__name__)

# How soon a client that left is noticed while its call runs.
CANCEL_POLL_S = 0.2
T = TypeVar("T")


class ClientLeft(Exception):
    """The client of a streaming job went away: its call was cut off."""


class JobStreams:
    """Writes streaming jobs' events and notices their clients leaving."""

    def __init__(self, redis: RedisBatcher, *, cancel_poll_s: float = CANCEL_POLL_S):
        self._redis = redis
        self._cancel_poll_s = cancel_poll_s

    def sink(self, job_id: UUID) -> "JobChunkSink":
        """Where a call of the job hands its chunks."""
        return JobChunkSink(self, job_id)

    async def add(self, job_id: UUID, kind: EntryKind, data: bytes) -> None:
        """Append one event to the job's stream (best effort)."""
        key = job_stream(str(job_id))
        fields: dict[FieldT, EncodableT] = dict(entry(kind, data).items())

        def fill(pipe: AsyncPipeline) -> None:
            pipe.xadd(key, fields, maxlen=JOB_STREAM_MAX_ENTRIES, approximate=True)
            pipe.expire(key, JOB_STREAM_TTL_S)

        try:
            await self._redis.execute(fill)
        except REDIS_ERRORS as error:
            logger.warning("job %s: stream event not written: %r", job_id, error)

    async def status(self, job_id: UUID, status: str) -> None:
        await self.add(job_id, EntryKind.STATUS, status.encode())

    async def end(self, job_id: UUID, end: JobEnd) -> None:
        await self.add(job_id, EntryKind.END, end.encode())

    async def has_client_left(self, job_id: UUID) -> bool:
        """Whether the API marked the job's client gone."""
        key = job_stream_cancel(str(job_id))
        try:
            (count,) = await self._redis.execute(lambda pipe: pipe.exists(key))
        except REDIS_ERRORS:
            return False  # Redis away: the call goes on, and is paid for anyway
        return bool(count)

    async def until_client_leaves(self, job_id: UUID, work: Awaitable[T]) -> T:
        """Await `work`, cancelling it (which closes its connection) and raising
        ClientLeft as soon as the job's client is marked gone."""
        task = asyncio.ensure_future(work)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self._cancel_poll_s)
                if done:
                    return task.result()
                if await self.has_client_left(job_id):
                    task.cancel()
                    await asyncio.wait({task})
                    raise ClientLeft(f"job {job_id}: the client closed the stream")
        finally:
            if not task.done():  # we were cancelled ourselves (the worker stops)
                task.cancel()
                await asyncio.wait({task})


class JobChunkSink:
    """A ChunkSink writing one job's chunks to its stream."""

    def __init__(self, streams: JobStreams, job_id: UUID) -> None:
        self._streams = streams
        self._job_id = job_id

    async def chunk(self, data: bytes) -> None:
        await self._streams.add(self._job_id, EntryKind.CHUNK, data)
