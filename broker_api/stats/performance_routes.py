"""HTTP for the performance comparison: `GET /v1/stats` (the caller's attempts)
and `GET /admin/stats` (every tenant's)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from broker_api.deps import AdminDep, CallerDep, SessionDep
from broker_api.periods import period_from_window
from broker_api.stats import performance
from broker_api.stats.performance import PerformanceReport
from broker_api.stats.routes import RedisDep

router = APIRouter(tags=["stats"])

WindowQuery = Annotated[
    str, Query(description="how far back: 30m, 24h, 7d (1m to 90d)")
]


@router.get("/v1/stats")
async def tenant_stats(
    session: SessionDep, redis: RedisDep, caller: CallerDep, window: WindowQuery = "24h"
) -> PerformanceReport:
    """Requests, success rate, p50/p95/p99 latency, time to first token (of
    streamed calls) and tokens per second, per model and per provider, of the
    caller's attempts; with the upstream health checks."""
    period = period_from_window(window, now=datetime.now(UTC))
    return await performance.performance_report(
        session, redis, period=period, tenant_id=caller.tenant_id
    )


@router.get("/admin/stats", dependencies=[AdminDep])
async def admin_stats(
    session: SessionDep, redis: RedisDep, window: WindowQuery = "24h"
) -> PerformanceReport:
    """The same comparison over every tenant's attempts (the admin token)."""
    period = period_from_window(window, now=datetime.now(UTC))
    return await performance.performance_report(
        session, redis, period=period, tenant_id=None
    )
