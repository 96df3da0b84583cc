"""SQL of the reconciliation report: the ledger by cost source, and the recorded
differences with OpenRouter's account per model and day."""

from collections.abc import Sequence

from sqlalchemy import RowMapping, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.periods import Period
from shared.db.models import Attempt, CostDifference


async def ledger_by_source(
    session: AsyncSession, period: Period
) -> Sequence[RowMapping]:
    """Attempts and their cost per cost source (NULL: rows older than the
    sources), in the period."""
    query = (
        select(
            Attempt.cost_source,
            func.count().label("attempts"),
            func.coalesce(func.sum(Attempt.cost_usd), 0).label("cost_usd"),
            func.count().filter(Attempt.cost_usd.is_(None)).label("without_cost"),
        )
        .where(Attempt.started_at >= period.start, Attempt.started_at < period.end)
        .group_by(Attempt.cost_source)
        .order_by(Attempt.cost_source)
    )
    return (await session.execute(query)).mappings().all()


async def differences(
    session: AsyncSession, period: Period
) -> Sequence[CostDifference]:
    """The recorded differences of the period's days, by day then model."""
    query = (
        select(CostDifference)
        .where(
            CostDifference.day >= period.start.date(),
            CostDifference.day < period.end.date(),
        )
        .order_by(CostDifference.day, CostDifference.model, CostDifference.upstream_key)
    )
    return (await session.scalars(query)).all()
