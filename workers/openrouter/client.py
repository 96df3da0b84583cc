"""The call to OpenRouter's chat completions.

One `httpx.AsyncClient` per worker process on aiohttp's transport (httpx's own async
pool collapses at hundreds of concurrent calls: see shared/reference/baselines.md),
used only on the process's event loop (workers.event_loop).
"""

import asyncio
import time
from dataclasses import dataclass
from uuid import UUID

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from pydantic import SecretStr

from workers.openrouter.errors import UpstreamTimeout, UpstreamUnavailable
from workers.openrouter.responses import read_reply
from workers.openrouter.schemas import Completion, JsonObject

# Lets the simulator (and anyone reading OpenRouter logs) group calls by job.
JOB_ID_HEADER = "X-Helixq-Job-Id"


@dataclass(frozen=True)
class ClientConfig:
    """Where and how to call OpenRouter."""

    base_url: str
    api_key: SecretStr
    timeout_s: float
    max_connections: int
    app_title: str = "helixq"
    http_referer: str | None = None

    def headers(self) -> dict[str, str]:
        """Headers sent on every call: auth and OpenRouter's app attribution."""
        headers = {
            "Authorization": f"Bearer {self.api_key.get_secret_value()}",
            "X-OpenRouter-Title": self.app_title,
        }
        if self.http_referer:
            headers["HTTP-Referer"] = self.http_referer
        return headers


class OpenRouterClient:
    """Chat completions against OpenRouter, on one event loop."""

    def __init__(
        self, config: ClientConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        limits = httpx.Limits(
            max_connections=config.max_connections,
            max_keepalive_connections=config.max_connections,
        )
        self._timeout_s = config.timeout_s
        base_url = config.base_url.rstrip("/") + "/"
        # Absolute: httpx merges a relative URL into base_url anew on every call.
        self._completions_url = httpx.URL(base_url + "chat/completions")
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=config.headers(),
            timeout=config.timeout_s,
            transport=transport or AiohttpTransport(limits=limits),
        )

    async def complete(self, job_id: UUID, body: JsonObject) -> Completion:
        """Send one chat completion; raises UpstreamError when it fails."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._http.post(
                    self._completions_url,
                    json=body,
                    headers={JOB_ID_HEADER: str(job_id)},
                )
        except (TimeoutError, httpx.TimeoutException):
            raise UpstreamTimeout(
                f"no answer from OpenRouter within {self._timeout_s:g}s"
            ) from None
        except (httpx.TransportError, aiohttp.ClientError, OSError) as exc:
            raise UpstreamUnavailable(
                f"could not reach OpenRouter: {type(exc).__name__}"
            ) from None
        return read_reply(
            response.status_code,
            response.headers,
            response.content,
            latency_ms=round((time.monotonic() - started) * 1000),
            now_s=time.time(),
        )

    async def aclose(self) -> None:
        """Close the connections (on the loop that opened them)."""
        await self._http.aclose()
