"""SQL for the dashboard: finished jobs and attempts in time buckets, per tenant.

A `tenant_id` of None reads every tenant (the admin's view). Query functions never
commit.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVarTuple
from uuid import UUID

from sqlalchemy import BigInteger, ColumnElement, Select, cast, func, literal_column
from sqlalchemy import select as sql_select
from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.dashboard.views import BudgetAlertView, FailureView
from shared.db.models import Attempt, BudgetAlert, Job, Tenant
from shared.jobs import AttemptOutcome, JobStatus

MAX_FAILURES = 20
MAX_BUDGET_ALERTS = 10
Columns = TypeVarTuple("Columns")
UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


@dataclass(frozen=True)
class AttemptStats:
    """Attempts of one model, in one bucket (`t`) or over the whole window.
    The percentiles are None while none of those attempts has a latency (every
    call still in flight); the first-token one while none of them streamed."""

    model: str
    t: int | None
    attempts: int
    failed: int
    p50_ms: float | None
    p95_ms: float | None
    first_token_p50_ms: float | None
    cost_usd: Decimal


def bucket_of(column: Any, bucket_s: int) -> ColumnElement[int]:
    """Unix seconds of the bucket start. The size is inlined, not bound, so that
    GROUP BY repeats the very same expression as the select list."""
    size: ColumnElement[int] = literal_column(str(int(bucket_s)))
    return cast(func.floor(func.extract("epoch", column) / size) * size, BigInteger)


def _scoped(query: Select[*Columns], tenant_id: UUID | None) -> Select[*Columns]:
    return query if tenant_id is None else query.where(Job.tenant_id == tenant_id)


async def finished_counts(
    session: AsyncSession, tenant_id: UUID | None, *, since: datetime, bucket_s: int
) -> list[tuple[int, str, int]]:
    """(bucket, status, jobs) for the jobs that finished since `since`."""
    t = bucket_of(Job.finished_at, bucket_s)
    query = (
        sql_select(t, Job.status, func.count())
        .where(Job.finished_at >= since)
        .group_by(t, Job.status)
    )
    rows = await session.execute(_scoped(query, tenant_id))
    return [(int(row[0]), str(row[1]), int(row[2])) for row in rows]


# Calls in flight (`started`) have not failed, nor have those interrupted: their
# worker stopped or died, which says nothing about the model.
_FAILED = [
    outcome.value
    for outcome in AttemptOutcome
    if outcome
    not in {
        AttemptOutcome.SUCCEEDED,
        AttemptOutcome.STARTED,
        AttemptOutcome.INTERRUPTED,
    }
]


async def attempt_stats(
    session: AsyncSession,
    tenant_id: UUID | None,
    *,
    since: datetime,
    bucket_s: int | None,
) -> list[AttemptStats]:
    """Latency percentiles, time to first token and cost per model, per bucket (or
    for the whole window when `bucket_s` is None). Failed and fallback attempts
    count: each one cost."""
    keys: list[ColumnElement[Any]] = [Attempt.model.expression]
    if bucket_s is not None:
        keys.append(bucket_of(Attempt.created_at, bucket_s))
    query = (
        sql_select(
            *keys,
            func.count(),
            func.count().filter(Attempt.outcome.in_(_FAILED)),
            func.percentile_cont(0.5).within_group(Attempt.latency_ms),
            func.percentile_cont(0.95).within_group(Attempt.latency_ms),
            func.percentile_cont(0.5).within_group(Attempt.first_token_ms),
            func.coalesce(func.sum(Attempt.cost_usd), 0),
        )
        .where(Attempt.created_at >= since)
        .group_by(*keys)
    )
    if tenant_id is not None:
        query = query.join(Job, Job.id == Attempt.job_id)
    rows = await session.execute(_scoped(query, tenant_id))
    return [_attempt_stats(row, is_bucketed=bucket_s is not None) for row in rows]


def _attempt_stats(row: Any, *, is_bucketed: bool) -> AttemptStats:
    model, *rest = row
    t = int(rest.pop(0)) if is_bucketed else None
    attempts, failed, p50, p95, first_token_p50, cost = rest
    return AttemptStats(
        model=str(model),
        t=t,
        attempts=int(attempts),
        failed=int(failed),
        p50_ms=None if p50 is None else float(p50),
        p95_ms=None if p95 is None else float(p95),
        first_token_p50_ms=None if first_token_p50 is None else float(first_token_p50),
        cost_usd=Decimal(cost),
    )


async def recent_failures(
    session: AsyncSession, tenant_id: UUID | None, *, since: datetime
) -> list[FailureView]:
    """The newest failed jobs with their reasons."""
    query = (
        sql_select(
            Job.id,
            Tenant.slug,
            Job.model,
            Job.error_code,
            Job.error_message,
            Job.finished_at,
        )
        .join(Tenant, Tenant.id == Job.tenant_id)
        .where(Job.status == JobStatus.FAILED.value, Job.finished_at >= since)
        .order_by(Job.finished_at.desc())
        .limit(MAX_FAILURES)
    )
    rows = await session.execute(_scoped(query, tenant_id))
    return [
        FailureView(
            job_id=row.id,
            tenant=row.slug,
            model=row.model,
            error_code=row.error_code,
            error_message=row.error_message,
            finished_at=row.finished_at,
        )
        for row in rows
    ]


async def unfinished_counts(
    session: AsyncSession, tenant_id: UUID | None
) -> dict[str, dict[str, int]]:
    """{slug: {status: jobs}} for queued and running jobs (a partial index)."""
    query = (
        sql_select(Tenant.slug, Job.status, func.count())
        .join(Tenant, Tenant.id == Job.tenant_id)
        .where(Job.status.in_(UNFINISHED))
        .group_by(Tenant.slug, Job.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for slug, status, jobs in await session.execute(_scoped(query, tenant_id)):
        counts.setdefault(str(slug), {})[str(status)] = int(jobs)
    return counts


async def tenant_slugs(session: AsyncSession, tenant_id: UUID | None) -> list[str]:
    query = sql_select(Tenant.slug).order_by(Tenant.slug)
    if tenant_id is not None:
        query = query.where(Tenant.id == tenant_id)
    return [str(slug) for slug in await session.scalars(query)]


async def recent_budget_alerts(
    session: AsyncSession, tenant_id: UUID | None
) -> list[BudgetAlertView]:
    """The newest budget thresholds reached, highest first within a period."""
    query = (
        sql_select(BudgetAlert, Tenant.slug)
        .join(Tenant, Tenant.id == BudgetAlert.tenant_id)
        .order_by(BudgetAlert.fired_at.desc(), BudgetAlert.threshold_pct.desc())
        .limit(MAX_BUDGET_ALERTS)
    )
    if tenant_id is not None:
        query = query.where(BudgetAlert.tenant_id == tenant_id)
    rows = await session.execute(query)
    return [
        BudgetAlertView(
            tenant=slug,
            period=alert.period,
            threshold_percent=alert.threshold_pct,
            spent_usd=alert.spent_usd,
            budget_usd=alert.budget_usd,
            fired_at=alert.fired_at,
        )
        for alert, slug in rows
    ]
