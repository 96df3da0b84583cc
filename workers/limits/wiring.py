"""Builds a worker process's LimitsGate from its settings and connections."""

from decimal import Decimal
from functools import partial

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from shared import budget
from shared.budget_periods import period_bounds
from workers.limits.buckets import RateLimiter
from workers.limits.gate import GateParts, LimitsGate
from workers.limits.running import RunningSlots
from workers.limits.tenants import TenantLimitsCache
from workers.openrouter.keys import TenantKeys, UpstreamKey
from workers.routing.catalog import CatalogCache
from workers.runtime.intake import Intake
from workers.runtime.redis_batching import RedisBatcher
from workers.runtime.settings import WorkerSettings

# shared.budget's statement, with the placeholders psycopg takes.
_PSYCOPG = PGDialect_psycopg()  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy
_RECORDED_SPEND = str(budget.RECORDED_SPEND.compile(dialect=_PSYCOPG))


async def _recorded_spend(
    db: AsyncConnectionPool[AsyncConnection[TupleRow]], slug: str, month: str
) -> Decimal:
    start, end = period_bounds(month)
    async with db.connection() as conn:
        cursor = await conn.execute(
            _RECORDED_SPEND, {"slug": slug, "start": start, "end": end}
        )
        row = await cursor.fetchone()
    return Decimal(row[0] if row else 0)


def build_gate(
    settings: WorkerSettings,
    *,
    redis: "Redis",
    batcher: RedisBatcher,
    db: AsyncConnectionPool[AsyncConnection[TupleRow]],
    catalog: CatalogCache,
    intake: Intake,
    global_key: UpstreamKey,
) -> LimitsGate:
    """The gate on `redis` (an asyncio client used on the worker's loop), its
    per-call commands sent through `batcher` (on the same client)."""
    parts = GateParts(
        limiter=RateLimiter(batcher, settings),
        tenants=TenantLimitsCache(db, ttl_s=settings.helixq_tenant_refresh_s),
        keys=TenantKeys(
            db,
            default=global_key,
            box=settings.box(),
            ttl_s=settings.helixq_tenant_refresh_s,
        ),
        running=RunningSlots(batcher, lease_s=settings.helixq_job_lease_s),
        redis=redis,
        batcher=batcher,
        catalog=catalog.get,
        recorded_spend=partial(_recorded_spend, db),
        intake=intake,
    )
    return LimitsGate(parts, settings)
