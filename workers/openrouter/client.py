"""The calls to OpenRouter's chat completions and embeddings.

One httpx transport per worker process, aiohttp's (httpx's own async pool stops
scaling at hundreds of concurrent calls), used only on the process's event loop
(workers.runtime.event_loop). Each call builds its `httpx.Request` and hands it to
the transport itself: `httpx.AsyncClient`'s per-call work (merging its defaults,
the cookie jar, the auth and redirect flows) serves nothing a chat completion uses,
and it runs on the loop that drives every other call.
"""

import asyncio
import time
from dataclasses import dataclass, replace
from uuid import UUID

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from pydantic import SecretStr

from workers.openrouter.errors import (
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from workers.openrouter.keys import UpstreamKey
from workers.openrouter.responses import read_reply
from workers.openrouter.schemas import Completion, JsonObject
from workers.openrouter.streaming import (
    ChunkSink,
    StreamedCall,
    StreamTimeouts,
    broken,
    read_stream,
    timed_out,
)

# Lets the simulator (and anyone reading OpenRouter logs) group calls by job.
JOB_ID_HEADER = "X-Helixq-Job-Id"
_TIMEOUTS = ("connect", "read", "write", "pool")


@dataclass(frozen=True)
class ClientConfig:
    """Where and how to call OpenRouter."""

    base_url: str
    api_key: SecretStr  # the global key: calls that name no key of their own
    timeout_s: float
    max_connections: int
    app_title: str = "helixq"
    http_referer: str | None = None

    def headers(self) -> dict[str, str]:
        """Headers sent on every call: OpenRouter's app attribution (the key is
        each call's own)."""
        headers = {"X-OpenRouter-Title": self.app_title}
        if self.http_referer:
            headers["HTTP-Referer"] = self.http_referer
        return headers


class OpenRouterClient:
    """Chat completions and embeddings against OpenRouter, on one event loop."""

    def __init__(
        self, config: ClientConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        limits = httpx.Limits(
            max_connections=config.max_connections,
            max_keepalive_connections=config.max_connections,
        )
        self._timeout_s = config.timeout_s
        self._completions_url = httpx.URL(
            config.base_url.rstrip("/") + "/chat/completions"
        )
        self._embeddings_url = httpx.URL(config.base_url.rstrip("/") + "/embeddings")
        self._headers = {**config.headers(), "Accept": "application/json"}
        # The transport's own timeouts (per phase); the call's bound is the asyncio
        # timeout around it.
        self._extensions = {"timeout": dict.fromkeys(_TIMEOUTS, config.timeout_s)}
        self._transport = transport or AiohttpTransport(limits=limits)
        # Calls go out on the tenant's key when the caller names one, else on
        # this (global) key.
        self.default_key = UpstreamKey.of(config.api_key, is_global=True)

    async def complete(
        self, job_id: UUID, body: JsonObject, *, key: UpstreamKey | None = None
    ) -> Completion:
        """Send one chat completion on `key` (the global key when None); raises
        UpstreamError when it fails."""
        return await self._post(self._completions_url, job_id, body, key)

    async def embed(
        self, job_id: UUID, body: JsonObject, *, key: UpstreamKey | None = None
    ) -> Completion:
        """Send one embeddings request on `key` (the global key when None); raises
        UpstreamError when it fails. Its answer counts no completion tokens."""
        answer = await self._post(self._embeddings_url, job_id, body, key)
        return replace(answer, completion_tokens=answer.completion_tokens or 0)

    async def _post(
        self, url: httpx.URL, job_id: UUID, body: JsonObject, key: UpstreamKey | None
    ) -> Completion:
        key = key or self.default_key
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._transport.handle_async_request(
                    httpx.Request(
                        "POST",
                        url,
                        headers={
                            **self._headers,
                            "Authorization": key.authorization(),
                            JOB_ID_HEADER: str(job_id),
                        },
                        json=body,
                        extensions=self._extensions,
                    )
                )
                try:
                    content = await response.aread()
                finally:
                    await response.aclose()
        except (
            TimeoutError,
            httpx.TransportError,
            aiohttp.ClientError,
            OSError,
        ) as exc:
            raise _transport_failure(exc, self._timeout_s) from None
        return read_reply(
            response.status_code,
            response.headers,
            content,
            latency_ms=round((time.monotonic() - started) * 1000),
            now_s=time.time(),
            redactor=key.redactor,
        )

    async def stream(
        self,
        job_id: UUID,
        body: JsonObject,
        *,
        sink: ChunkSink,
        call: StreamedCall,
        first_token_timeout_s: float,
        key: UpstreamKey | None = None,
    ) -> Completion:
        """Send one chat completion with `stream: true` on `key` (the global key
        when None), handing each chunk to
        `sink` as it arrives; `call` holds the answer so far. Raises UpstreamError:
        UpstreamFirstTokenTimeout when no chunk came within `first_token_timeout_s`,
        UpstreamStreamBroken when the call failed after a chunk was handed on."""
        key = key or self.default_key
        timeouts = StreamTimeouts(
            first_token_s=min(first_token_timeout_s, self._timeout_s),
            total_s=self._timeout_s,
        )
        request = httpx.Request(
            "POST",
            self._completions_url,
            headers={
                **self._headers,
                "Authorization": key.authorization(),
                "Accept": "text/event-stream",
                JOB_ID_HEADER: str(job_id),
            },
            json={**body, "stream": True},
            extensions=self._extensions,
        )
        try:
            async with asyncio.timeout(timeouts.first_token_s) as deadline:
                response = await self._transport.handle_async_request(request)
                try:
                    if response.status_code != 200:
                        raise _refusal(response, await response.aread(), key)
                    call.note_generation_id(response.headers.get("x-generation-id"))
                    return await read_stream(
                        call,
                        response,
                        sink,
                        deadline=deadline,
                        timeouts=timeouts,
                        redactor=key.redactor,
                    )
                finally:
                    await response.aclose()
        except UpstreamError as error:
            raise broken(call, error) from None
        except TimeoutError:
            raise broken(call, timed_out(call, timeouts)) from None
        except (httpx.TransportError, aiohttp.ClientError, OSError) as exc:
            raise broken(call, _transport_failure(exc, self._timeout_s)) from None

    async def aclose(self) -> None:
        """Close the connections (on the loop that opened them)."""
        await self._transport.aclose()


def _refusal(
    response: httpx.Response, content: bytes, key: UpstreamKey
) -> UpstreamError:
    """The error a streamed call answered instead of its stream."""
    try:
        read_reply(
            response.status_code,
            response.headers,
            content,
            latency_ms=0,
            now_s=time.time(),
            redactor=key.redactor,
        )
    except UpstreamError as error:
        return error
    return UpstreamBadResponse(
        f"OpenRouter answered {response.status_code} without a stream",
        http_status=response.status_code,
    )


def _transport_failure(error: BaseException, timeout_s: float) -> UpstreamError:
    """A call that got no answer: timed out, or its connection failed."""
    # The aiohttp transport reports every aiohttp connection error as an httpx
    # ConnectTimeout, a server that closed the connection mid-call included; the
    # aiohttp error it wraps says whether time ran out.
    cause = error.__cause__
    if isinstance(error, httpx.TransportError) and isinstance(
        cause, aiohttp.ClientError
    ):
        error = cause
    if isinstance(error, TimeoutError | httpx.TimeoutException):
        return UpstreamTimeout(f"no answer from OpenRouter within {timeout_s:g}s")
    return UpstreamUnavailable(
        f"no answer from OpenRouter: the connection failed ({type(error).__name__})"
    )
