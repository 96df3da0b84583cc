"""What `/metrics` shows, read at scrape time from the state every process shares.

Nothing is kept in this process: queue lengths and worker heartbeats come from
Redis, job counts from Postgres, and the attempt, cost, rate-limit and webhook
counters from the Redis hash every worker adds to (shared.metrics). So the numbers
are the same whichever API process Prometheus scrapes, and sum every worker.
"""

from dataclasses import dataclass, field
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared import redis_keys
from shared.metrics import Sample, parse_counters
from shared.queue_depth import waiting_messages
from shared.upstream_health import UpstreamCheck, parse_checks

# Age of the oldest job that is due (queued and available), per tenant; and the
# jobs per tenant and status (a count over the jobs table at every scrape).
_JOBS = text("""
SELECT tenants.slug, jobs.status, count(*) AS jobs,
    extract(epoch FROM now() - min(jobs.available_at)
        FILTER (WHERE jobs.status = 'queued' AND jobs.available_at <= now()))
        AS oldest_due_s
FROM jobs JOIN tenants ON tenants.id = jobs.tenant_id
GROUP BY tenants.slug, jobs.status
""")
_TENANTS = text("SELECT slug FROM tenants ORDER BY slug")
# The ledger against OpenRouter's account (workers.maintenance.cost_reconciliation):
# what no attempt took, per model over the days OpenRouter keeps; and the calls
# whose cost is still estimated or unknown (a partial index holds exactly those).
_UNATTRIBUTED = text("""
SELECT model, sum(difference_usd - attributed_usd) AS usd FROM cost_differences
WHERE day >= current_date - 30 GROUP BY model
""")
_OPEN_COSTS = text("""
SELECT cost_source, count(*) AS attempts FROM attempts
WHERE cost_source IN ('estimated', 'unknown') GROUP BY cost_source
""")
HEARTBEAT_SCAN_COUNT = 500


@dataclass(frozen=True)
class JobCount:
    tenant: str
    status: str
    jobs: int


@dataclass(frozen=True)
class Snapshot:
    """Everything one scrape shows."""

    queue_depth: dict[str, int]  # tenant slug → messages waiting in Redis
    oldest_due_age_s: dict[str, float]  # tenant slug → seconds
    jobs: list[JobCount]
    counters: list[Sample]
    workers_alive: int
    upstream: UpstreamCheck | None  # the latest check, if any
    taken_at: datetime
    unattributed_usd: dict[str, float] = field(default_factory=dict)  # by model
    open_costs: dict[str, int] = field(default_factory=dict)  # by cost source


async def take_snapshot(
    session: AsyncSession, redis: Redis, *, now: datetime
) -> Snapshot:
    """Read Postgres, then Redis; no transaction is held across the Redis reads."""
    async with session.begin():
        slugs = list((await session.scalars(_TENANTS)).all())
        job_rows = (await session.execute(_JOBS)).all()
        unattributed = (await session.execute(_UNATTRIBUTED)).all()
        open_costs = (await session.execute(_OPEN_COSTS)).all()
    oldest = {
        row.slug: float(row.oldest_due_s)
        for row in job_rows
        if row.oldest_due_s is not None
    }
    latest = parse_checks(await redis.lrange(redis_keys.upstream_health_checks(), 0, 0))
    return Snapshot(
        queue_depth=await waiting_messages(redis, slugs),
        oldest_due_age_s=oldest,
        jobs=[JobCount(row.slug, row.status, row.jobs) for row in job_rows],
        counters=parse_counters(await redis.hgetall(redis_keys.monitoring_counters())),
        workers_alive=await count_live_workers(redis),
        upstream=latest[0] if latest else None,
        taken_at=now,
        unattributed_usd={row.model: float(row.usd) for row in unattributed},
        open_costs={row.cost_source: row.attempts for row in open_costs},
    )


async def count_live_workers(redis: Redis) -> int:
    """Worker processes whose heartbeat key has not expired."""
    pattern = redis_keys.worker_heartbeat_pattern()
    return len(
        [key async for key in redis.scan_iter(pattern, count=HEARTBEAT_SCAN_COUNT)]
    )
