"""The provider performance comparison: `GET /v1/stats` over a chosen window."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.periods import Period
from broker_api.stats import performance_queries
from shared import redis_keys
from shared.db.models import Tenant
from shared.upstream_health import UpstreamCheck, is_stale, parse_checks

# The checks shown with the stats: the last 20 minutes at one a minute.
UPSTREAM_CHECKS_SHOWN = 20


class PerformanceRow(BaseModel):
    key: str  # the model id or the provider name
    requests: int
    succeeded: int
    success_rate: float | None
    latency_ms_p50: float | None  # of successful attempts
    latency_ms_p95: float | None
    latency_ms_p99: float | None
    tokens_per_s: float | None  # completion tokens / seconds of successful calls
    streamed: int  # answered calls that streamed: what the first-token figures read
    first_token_ms_p50: float | None  # time to the first chunk of streamed calls
    first_token_ms_p95: float | None
    first_token_ms_p99: float | None


class UpstreamHealth(BaseModel):
    status: Literal["ok", "failing", "unknown"]  # unknown: no recent check
    checks: list[UpstreamCheck]  # newest first


class PerformanceReport(BaseModel):
    object: Literal["stats"] = "stats"
    start: datetime
    end: datetime
    models: list[PerformanceRow]
    providers: list[PerformanceRow]
    upstream: UpstreamHealth


async def performance_report(
    session: AsyncSession, redis: Redis, *, period: Period, tenant_id: UUID | None
) -> PerformanceReport:
    """Per model and per provider over `period`, for one tenant or (None) all."""
    async with session.begin():
        by_model, by_provider = [
            await performance_queries.performance_rows(
                session, by=by, period=period, tenant_id=tenant_id
            )
            for by in ("model", "provider")
        ]
        # A tenant on a key of its own sees that key's health.
        label = None
        if tenant_id is not None:
            label = await session.scalar(
                select(Tenant.openrouter_key_label).where(Tenant.id == tenant_id)
            )
    return PerformanceReport(
        start=period.start,
        end=period.end,
        models=[_row_view(row) for row in by_model],
        providers=[_row_view(row) for row in by_provider],
        upstream=await upstream_health(redis, now=period.end, label=label),
    )


async def upstream_health(
    redis: Redis, *, now: datetime, label: str | None = None
) -> UpstreamHealth:
    """The last upstream checks the workers stored, and what they say now: of the
    global key, or of the tenant OpenRouter key labelled `label`."""
    raw = await redis.lrange(
        redis_keys.upstream_health_checks(label), 0, UPSTREAM_CHECKS_SHOWN - 1
    )
    checks = parse_checks(raw)
    if not checks or is_stale(checks[0], now):
        return UpstreamHealth(status="unknown", checks=checks)
    return UpstreamHealth(status="ok" if checks[0].ok else "failing", checks=checks)


def _row_view(row: RowMapping) -> PerformanceRow:
    requests, succeeded = row["requests"], row["succeeded"]
    seconds = float(row["seconds"])
    return PerformanceRow(
        key=row["key"],
        requests=requests,
        succeeded=succeeded,
        success_rate=succeeded / requests if requests else None,
        latency_ms_p50=row["p50_ms"],
        latency_ms_p95=row["p95_ms"],
        latency_ms_p99=row["p99_ms"],
        tokens_per_s=int(row["tokens"]) / seconds if seconds > 0 else None,
        streamed=row["streamed"],
        first_token_ms_p50=row["first_token_p50_ms"],
        first_token_ms_p95=row["first_token_p95_ms"],
        first_token_ms_p99=row["first_token_p99_ms"],
    )
