"""The periodic upstream health check: is OpenRouter reachable, is our key valid?

A beat task calls OpenRouter's `GET /key` with the worker's key (the API has no key
and never calls OpenRouter) and keeps the last checks in Redis for `/readyz`,
`/metrics` and `GET /v1/stats` (see shared.upstream_health).
"""

import logging
import time
from datetime import UTC, datetime

import httpx
import redis

from shared import redis_keys
from shared.upstream_health import UpstreamCheck
from workers.runtime.settings import WorkerSettings

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 10.0


def check_upstream(
    settings: WorkerSettings,
    client: redis.Redis,
    *,
    transport: httpx.BaseTransport | None = None,
) -> UpstreamCheck:
    """Call `GET /key`, store the check (newest first, bounded) and return it."""
    check = call_key_endpoint(settings, transport=transport)
    key = redis_keys.upstream_health_checks()
    pipe = client.pipeline(transaction=False)
    pipe.lpush(key, check.model_dump_json())
    pipe.ltrim(key, 0, redis_keys.UPSTREAM_HEALTH_HISTORY - 1)
    pipe.execute()
    if not check.ok:
        logger.warning("upstream check failed: %s", check.reason)
    return check


def call_key_endpoint(
    settings: WorkerSettings, *, transport: httpx.BaseTransport | None = None
) -> UpstreamCheck:
    """One call to `GET /key` and what it showed; never raises for the upstream."""
    checked_at = datetime.now(UTC)
    if not settings.openrouter_enabled or settings.openrouter_api_key is None:
        return _no_answer(checked_at, "OPENROUTER_ENABLED=false or no key: not checked")
    key = settings.openrouter_api_key.get_secret_value()
    headers = {"Authorization": f"Bearer {key}"}
    started = time.monotonic()
    try:
        with httpx.Client(timeout=CHECK_TIMEOUT_S, transport=transport) as http:
            response = http.get(_key_url(settings.openrouter_base_url), headers=headers)
    except httpx.HTTPError as error:
        return _no_answer(checked_at, f"OpenRouter unreachable: {type(error).__name__}")
    latency_ms = round((time.monotonic() - started) * 1000)
    return UpstreamCheck(
        ok=response.status_code == httpx.codes.OK,
        status=response.status_code,
        latency_ms=latency_ms,
        checked_at=checked_at,
        reason=_reason(response.status_code),
    )


def _no_answer(checked_at: datetime, reason: str) -> UpstreamCheck:
    return UpstreamCheck(
        ok=False, status=None, latency_ms=None, checked_at=checked_at, reason=reason
    )


def _key_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/key"


def _reason(status: int) -> str | None:
    if status == httpx.codes.OK:
        return None
    if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
        return f"OpenRouter rejected the key (HTTP {status})"
    if status == httpx.codes.TOO_MANY_REQUESTS:
        return "OpenRouter is rate limiting the key (HTTP 429)"
    return f"OpenRouter answered HTTP {status}"
