"""The periodic upstream health check: is OpenRouter reachable, is our key valid?

A beat task calls OpenRouter's `GET /key` with the worker's key and with each
tenant's own key (the API has no key and never calls OpenRouter) and keeps the last
checks in Redis, per key, for `/readyz`, `/metrics` and `GET /v1/stats` (see
shared.upstream_health).
"""

import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import httpx
import redis
from pydantic import SecretStr

from shared import redis_keys
from shared.upstream_health import UpstreamCheck
from workers.openrouter.keys import UpstreamKey
from workers.runtime.settings import WorkerSettings

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 10.0


def check_upstream(
    settings: WorkerSettings,
    client: redis.Redis,
    *,
    tenant_keys: Iterable[UpstreamKey] = (),
    transport: httpx.BaseTransport | None = None,
) -> UpstreamCheck:
    """Call `GET /key` with the global key and with each of `tenant_keys`, store
    each check under its key's label (newest first, bounded) and return the
    global key's."""
    check = call_key_endpoint(
        settings, settings.openrouter_api_key, transport=transport
    )
    _store(client, redis_keys.upstream_health_checks(), check)
    if not check.ok:
        logger.warning("upstream check failed: %s", check.reason)
    for tenant_key in tenant_keys:
        own = call_key_endpoint(settings, tenant_key.secret, transport=transport)
        _store(client, redis_keys.upstream_health_checks(tenant_key.label), own)
        if not own.ok:
            logger.warning(
                "upstream check of key %s failed: %s", tenant_key.label, own.reason
            )
    return check


def _store(client: redis.Redis, key: str, check: UpstreamCheck) -> None:
    pipe = client.pipeline(transaction=False)
    pipe.lpush(key, check.model_dump_json())
    pipe.ltrim(key, 0, redis_keys.UPSTREAM_HEALTH_HISTORY - 1)
    pipe.expire(key, redis_keys.UPSTREAM_HEALTH_TTL_S)
    pipe.execute()


def call_key_endpoint(
    settings: WorkerSettings,
    api_key: SecretStr | None,
    *,
    transport: httpx.BaseTransport | None = None,
) -> UpstreamCheck:
    """One call to `GET /key` with `api_key` and what it showed; never raises for
    the upstream."""
    checked_at = datetime.now(UTC)
    if not settings.openrouter_enabled or api_key is None:
        return _no_answer(checked_at, "OPENROUTER_ENABLED=false or no key: not checked")
    headers = {"Authorization": f"Bearer {api_key.get_secret_value()}"}
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
