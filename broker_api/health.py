"""Liveness and readiness: a broken dependency shows as a reason, not a trace.

`/readyz` answers 503 when the API cannot take jobs (Postgres or Redis down). A
missing worker or a failing upstream does not stop the API from queueing work, so
they make the answer `degraded` (still 200) unless `?strict=true` is asked for.
"""

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from broker_api.metrics.snapshot import count_live_workers
from broker_api.stats.performance import upstream_health
from shared.upstream_health import STALE_AFTER

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 3.0
REQUIRED = ("postgres", "redis")
STALE_S = round(STALE_AFTER.total_seconds())


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, strict: bool = False) -> JSONResponse:
    """Each dependency with `ok` and, when not ok, a `reason`; 503 when a required
    one (or with `strict`, any one) fails."""
    state = request.app.state
    checks = {
        "postgres": await _check("postgres", _ping_postgres(state.engine)),
        "redis": await _check("redis", state.redis.ping()),
        "workers": await _check("workers", _check_workers(state.redis)),
        "upstream": await _check("upstream", _check_upstream(state.redis)),
        "batch_api": await _check("batch_api", _check_batch_api(state.engine)),
    }
    failing = {name for name, check in checks.items() if not check["ok"]}
    required_failing = failing if strict else failing.intersection(REQUIRED)
    status = "not_ready" if required_failing else "degraded" if failing else "ready"
    return JSONResponse(
        {"status": status, "checks": checks},
        status_code=503 if required_failing else 200,
    )


async def _check(name: str, probe: Awaitable[object]) -> dict[str, Any]:
    # Catch everything: readiness reports a broken dependency, it never raises.
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            found = await probe
    except TimeoutError:
        return {"ok": False, "reason": f"{name}: no answer in {CHECK_TIMEOUT_S:g}s"}
    except Exception as exc:
        return {"ok": False, "reason": f"{name} unreachable: {type(exc).__name__}"}
    return found if isinstance(found, dict) else {"ok": True}


async def _ping_postgres(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


# Upstream batches whose results OpenRouter holds back until credits are added.
_CREDITS_SHORT = text("""
SELECT count(*) FROM upstream_batches
WHERE payment_required_at IS NOT NULL AND results_stored_at IS NULL
""")


async def _check_batch_api(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as connection:
        waiting = int((await connection.execute(_CREDITS_SHORT)).scalar_one())
    if waiting:
        return {
            "ok": False,
            "payment_required": waiting,
            "reason": f"OpenRouter answers 402 (credits short) for {waiting} "
            "upstream batches; their results wait until credits are added",
        }
    return {"ok": True, "payment_required": 0}


async def _check_workers(redis: Redis) -> dict[str, Any]:
    alive = await count_live_workers(redis)
    if alive == 0:
        return {"ok": False, "alive": 0, "reason": "no worker heartbeat in Redis"}
    return {"ok": True, "alive": alive}


async def _check_upstream(redis: Redis) -> dict[str, Any]:
    health = await upstream_health(redis, now=datetime.now(UTC))
    if health.status == "unknown":
        return {
            "ok": False,
            "status": "unknown",
            "reason": f"no upstream check in the last {STALE_S}s (is beat running?)",
        }
    last = health.checks[0]
    found: dict[str, Any] = {
        "ok": last.ok,
        "status": health.status,
        "checked_at": last.checked_at.isoformat(),
        "latency_ms": last.latency_ms,
    }
    if last.reason:
        found["reason"] = last.reason
    return found
