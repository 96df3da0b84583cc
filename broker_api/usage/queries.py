"""SQL of usage: attempts joined to their jobs, grouped, summed exactly."""

from collections.abc import Sequence
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import Date, RowMapping, String, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from broker_api.periods import Period
from shared.db.models import Attempt, Job, Tenant
from shared.jobs import AttemptOutcome
from shared.metrics import UNKNOWN_PROVIDER

Column = InstrumentedAttribute[str]

# Jobs submitted without routing (an explicit model, before strategies ran).
UNROUTED = "unrouted"


class Dimension(StrEnum):
    """What usage can be grouped by."""

    MODEL = "model"
    PROVIDER = "provider"
    DAY = "day"
    STRATEGY = "strategy"
    TENANT = "tenant"  # the admin view only


def _dimension_column(dimension: Dimension) -> ColumnElement[Any] | Column:
    if dimension is Dimension.MODEL:
        return Attempt.model
    if dimension is Dimension.PROVIDER:
        return func.coalesce(Attempt.provider, UNKNOWN_PROVIDER)
    if dimension is Dimension.DAY:
        return cast(func.timezone("UTC", Attempt.started_at), Date)
    if dimension is Dimension.STRATEGY:
        return func.coalesce(
            Job.routing["strategy"].astext,
            Job.route["strategy"].astext,
            cast(literal(UNROUTED), String),
        )
    return Tenant.slug


async def usage_rows(
    session: AsyncSession,
    *,
    period: Period,
    group_by: Sequence[Dimension],
    tenant_id: UUID | None,
) -> Sequence[RowMapping]:
    """One row per group: the group's values (named as the dimensions), requests,
    succeeded, prompt_tokens, completion_tokens, cost_usd (Decimal, exact).
    `tenant_id` None: every tenant."""
    keys = [_dimension_column(d).label(d.value) for d in group_by]
    query = (
        select(
            *keys,
            func.count().label("requests"),
            func.count()
            .filter(Attempt.outcome == AttemptOutcome.SUCCEEDED.value)
            .label("succeeded"),
            func.coalesce(func.sum(Attempt.prompt_tokens), 0).label("prompt_tokens"),
            func.coalesce(func.sum(Attempt.completion_tokens), 0).label(
                "completion_tokens"
            ),
            func.coalesce(func.sum(Attempt.cost_usd), 0).label("cost_usd"),
        )
        .join(Job, Job.id == Attempt.job_id)
        .join(Tenant, Tenant.id == Job.tenant_id)
        .where(Attempt.started_at >= period.start, Attempt.started_at < period.end)
        .group_by(*keys)
        .order_by(*keys)
    )
    if tenant_id is not None:
        query = query.where(Job.tenant_id == tenant_id)
    return (await session.execute(query)).mappings().all()
