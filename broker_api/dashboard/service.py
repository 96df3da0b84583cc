"""The dashboard's data: one read of Postgres and one of Redis per refresh."""

from collections import defaultdict
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.dashboard import queries
from broker_api.dashboard.access import Viewer
from broker_api.dashboard.views import (
    DashboardData,
    ModelPoint,
    ModelSeries,
    QueueView,
    ThroughputPoint,
    Window,
)
from shared.jobs import JobStatus
from shared.queue_depth import waiting_messages

WINDOW_S: dict[Window, int] = {"15m": 900, "1h": 3600, "6h": 21600, "24h": 86400}
POINTS = 60  # buckets per chart: a point a minute over the default hour
MAX_QUEUES = 30  # the admin sees the busiest tenants only


async def dashboard_data(
    session: AsyncSession,
    redis: Redis,
    viewer: Viewer,
    *,
    window: Window,
    now: datetime,
) -> DashboardData:
    window_s = WINDOW_S[window]
    bucket_s = window_s // POINTS
    first = (int(now.timestamp()) - window_s) // bucket_s * bucket_s + bucket_s
    since = datetime.fromtimestamp(first, tz=now.tzinfo)
    tenant_id = viewer.tenant_id
    async with session.begin():
        finished = await queries.finished_counts(
            session, tenant_id, since=since, bucket_s=bucket_s
        )
        points = await queries.attempt_stats(
            session, tenant_id, since=since, bucket_s=bucket_s
        )
        totals = await queries.attempt_stats(
            session, tenant_id, since=since, bucket_s=None
        )
        failures = await queries.recent_failures(session, tenant_id, since=since)
        alerts = await queries.recent_budget_alerts(session, tenant_id)
        unfinished = await queries.unfinished_counts(session, tenant_id)
        slugs = await queries.tenant_slugs(session, tenant_id)
    waiting = await waiting_messages(redis, slugs)  # not inside the transaction
    return DashboardData(
        scope=viewer.scope,
        window=window,
        window_s=window_s,
        bucket_s=bucket_s,
        since=first,
        now=int(now.timestamp()),
        queues=queue_views(waiting, unfinished, show_idle=tenant_id is not None),
        throughput=throughput_points(finished, first=first, bucket_s=bucket_s),
        models=model_series(totals, points),
        failures=failures,
        budget_alerts=alerts,
    )


def queue_views(
    waiting: dict[str, int], unfinished: dict[str, dict[str, int]], *, show_idle: bool
) -> list[QueueView]:
    """Busiest first; idle tenants only when the viewer is one tenant."""
    views = [
        QueueView(
            tenant=slug,
            waiting=waiting.get(slug, 0),
            queued=unfinished.get(slug, {}).get(JobStatus.QUEUED.value, 0),
            running=unfinished.get(slug, {}).get(JobStatus.RUNNING.value, 0),
        )
        for slug in sorted(set(waiting) | set(unfinished))
    ]
    if not show_idle:
        views = [v for v in views if v.waiting or v.queued or v.running]
    views.sort(key=lambda v: (-(v.waiting + v.queued + v.running), v.tenant))
    return views[:MAX_QUEUES]


def throughput_points(
    finished: list[tuple[int, str, int]], *, first: int, bucket_s: int
) -> list[ThroughputPoint]:
    """Every bucket of the window, empty ones too, so the time axis is even."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for t, status, jobs in finished:
        counts[t][status] = jobs
    points = []
    for t in range(first, first + POINTS * bucket_s, bucket_s):
        by_status = counts.get(t, {})
        succeeded = by_status.pop(JobStatus.SUCCEEDED.value, 0)
        failed = by_status.pop(JobStatus.FAILED.value, 0)
        points.append(
            ThroughputPoint(
                t=t, succeeded=succeeded, failed=failed, other=sum(by_status.values())
            )
        )
    return points


def model_series(
    totals: list[queries.AttemptStats], points: list[queries.AttemptStats]
) -> list[ModelSeries]:
    """One series per model, the most used first."""
    by_model: dict[str, list[ModelPoint]] = defaultdict(list)
    for point in sorted(points, key=lambda p: p.t or 0):
        by_model[point.model].append(
            ModelPoint(
                t=point.t or 0,
                attempts=point.attempts,
                p50_ms=point.p50_ms,
                p95_ms=point.p95_ms,
                first_token_p50_ms=point.first_token_p50_ms,
                cost_usd=float(point.cost_usd),
            )
        )
    ordered = sorted(totals, key=lambda s: (-s.attempts, s.model))
    return [
        ModelSeries(
            model=total.model,
            attempts=total.attempts,
            failed=total.failed,
            p50_ms=total.p50_ms,
            p95_ms=total.p95_ms,
            first_token_p50_ms=total.first_token_p50_ms,
            cost_usd=total.cost_usd,
            points=by_model[total.model],
        )
        for total in ordered
    ]
