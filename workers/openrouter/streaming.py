"""A streamed call to OpenRouter: each chunk handed on as it arrives, the whole
answer put back together (workers.openrouter.stream_assembly).

Until the first chunk arrives the call may fail like any other, and another
candidate may take over: a call that sends no chunk within the first-token timeout
fails as UpstreamFirstTokenTimeout. Once a chunk was handed on, the client has seen
part of the answer, so a failure is UpstreamStreamBroken, carrying what arrived.
"""

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

from shared.redaction import Redactor
from workers.openrouter.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamFirstTokenTimeout,
    UpstreamStreamBroken,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from workers.openrouter.responses import read_reply
from workers.openrouter.schemas import Completion, JsonObject
from workers.openrouter.sse import DONE, SseDecoder
from workers.openrouter.stream_assembly import StreamAssembly


class ChunkSink(Protocol):
    """Where each chunk goes as it arrives (JSON text, as OpenRouter sent it)."""

    async def chunk(self, data: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class StreamTimeouts:
    """The call's bounds: until its first chunk, and in all."""

    first_token_s: float
    total_s: float


@dataclass
class StreamedCall:
    """One streamed call in progress: the time its first chunk arrived and the
    answer so far, which its caller reads when it cuts the call off."""

    assembly: StreamAssembly
    started_s: float  # time.monotonic() when the call went out
    first_token_ms: int | None = None
    # Told the generation id once, as soon as the answer's headers or first chunk
    # carry it, so the ledger can keep it while the call goes on.
    on_generation_id: Callable[[str], None] | None = None
    generation_id: str | None = None

    def note_generation_id(self, value: object) -> None:
        """Keep the call's generation id the first time it is seen."""
        if self.generation_id is not None or not isinstance(value, str) or not value:
            return
        self.generation_id = value
        if self.on_generation_id is not None:
            self.on_generation_id(value)

    def completion(self, http_status: int = 200) -> Completion:
        """What arrived, as the ledger keeps it."""
        return self.assembly.completion(
            http_status=http_status,
            latency_ms=round((time.monotonic() - self.started_s) * 1000),
            first_token_ms=self.first_token_ms,
        )


async def read_stream(
    call: StreamedCall,
    response: httpx.Response,
    sink: ChunkSink,
    *,
    deadline: asyncio.Timeout,
    timeouts: StreamTimeouts,
    redactor: Redactor,
) -> Completion:
    """Read a 200 `text/event-stream` answer to its `[DONE]`, handing each chunk to
    `sink` and moving `deadline` to the total bound at the first one; raises
    UpstreamError."""
    decoder = SseDecoder()
    async for raw in response.aiter_raw():
        for data in decoder.feed(raw):
            if data == DONE:
                return call.completion()
            chunk = _chunk(data)
            call.note_generation_id(chunk.get("id"))
            if call.first_token_ms is None:
                call.first_token_ms = round((time.monotonic() - call.started_s) * 1000)
                _reschedule(deadline, call, timeouts)
            if "error" in chunk:
                error = _midstream_error(response, data, redactor)
                if call.assembly.chunks:
                    await sink.chunk(data)  # the client sees the error event
                raise error
            call.assembly.add(chunk)
            await sink.chunk(data)
    raise UpstreamUnavailable("the stream ended without [DONE]", http_status=200)


def broken(call: StreamedCall, error: UpstreamError) -> UpstreamError:
    """`error` as the call's caller must see it: failover is possible only while
    no chunk was handed on."""
    if not call.assembly.chunks or isinstance(error, UpstreamStreamBroken):
        return error
    return UpstreamStreamBroken(error, call.completion(http_status=200))


def timed_out(call: StreamedCall, timeouts: StreamTimeouts) -> UpstreamError:
    """The error of a call whose time ran out: before or after its first chunk."""
    if call.first_token_ms is None and timeouts.first_token_s < timeouts.total_s:
        return UpstreamFirstTokenTimeout(
            f"no first token from OpenRouter within {timeouts.first_token_s:g}s"
        )
    return UpstreamTimeout(f"no answer from OpenRouter within {timeouts.total_s:g}s")


def _reschedule(
    deadline: asyncio.Timeout, call: StreamedCall, timeouts: StreamTimeouts
) -> None:
    """Once the first chunk is in, the call has the rest of its total bound."""
    loop = asyncio.get_running_loop()
    elapsed_s = time.monotonic() - call.started_s
    deadline.reschedule(loop.time() + max(0.0, timeouts.total_s - elapsed_s))


def _chunk(data: bytes) -> JsonObject:
    try:
        chunk = json.loads(data)
    except ValueError:
        chunk = None
    if not isinstance(chunk, dict):
        raise UpstreamBadResponse(
            "a stream chunk is not a JSON object", http_status=200
        )
    return chunk


def _midstream_error(
    response: httpx.Response, data: bytes, redactor: Redactor
) -> UpstreamError:
    """OpenRouter's mid-stream error event as the UpstreamError it stands for."""
    try:
        read_reply(
            200,
            response.headers,
            data,
            latency_ms=0,
            now_s=time.time(),
            redactor=redactor,
        )
    except UpstreamError as error:
        return error
    return UpstreamUnavailable("the provider failed mid-stream", http_status=200)
