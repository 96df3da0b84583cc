"""Builds a worker process's LimitsGate from its settings and connections."""

from decimal import Decimal
from functools import partial

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis
from sqlalchemy.orm import Session, sessionmaker

from shared import budget
from workers.limits.buckets import RateLimiter
from workers.limits.gate import GateParts, LimitsGate
from workers.limits.running import RunningSlots
from workers.limits.tenants import TenantLimitsCache
from workers.maintenance.catalog_sync import CatalogCache
from workers.runtime.intake import Intake
from workers.runtime.redis_batching import RedisBatcher
from workers.runtime.settings import WorkerSettings


def _recorded_spend(sessions: sessionmaker[Session], slug: str, month: str) -> Decimal:
    with sessions() as session:
        return budget.recorded_spend(session, slug, month)


def build_gate(
    settings: WorkerSettings,
    *,
    redis: "Redis",
    batcher: RedisBatcher,
    db: AsyncConnectionPool[AsyncConnection[TupleRow]],
    sessions: sessionmaker[Session],
    intake: Intake,
) -> LimitsGate:
    """The gate on `redis` (an asyncio client used on the worker's loop), its
    per-call commands sent through `batcher` (on the same client)."""
    parts = GateParts(
        limiter=RateLimiter(batcher, settings),
        tenants=TenantLimitsCache(db, ttl_s=settings.helixq_tenant_refresh_s),
        running=RunningSlots(batcher, lease_s=settings.helixq_job_lease_s),
        redis=redis,
        batcher=batcher,
        catalog=CatalogCache(sessions).get,
        recorded_spend=partial(_recorded_spend, sessions),
        intake=intake,
    )
    return LimitsGate(parts, settings)
