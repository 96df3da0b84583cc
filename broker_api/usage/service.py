"""Usage reports: cost, tokens and requests per group over whole UTC days."""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.periods import Period
from broker_api.usage import queries
from broker_api.usage.queries import Dimension
from broker_api.usage.views import UsageReport, UsageRow, UsageTotals, usd
from shared.errors import InvalidRequest

TENANT_DIMENSIONS = (
    Dimension.MODEL,
    Dimension.PROVIDER,
    Dimension.DAY,
    Dimension.STRATEGY,
)
ADMIN_DIMENSIONS = (*TENANT_DIMENSIONS, Dimension.TENANT)


def parse_group_by(text: str, allowed: Sequence[Dimension]) -> list[Dimension]:
    """`model,day` → dimensions, in the order given; empty text: totals only."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    accepted = [dimension.value for dimension in allowed]
    unknown = [name for name in names if name not in accepted]
    if unknown:
        raise InvalidRequest(
            f"group_by: unknown {', '.join(unknown)}; use any of {', '.join(accepted)}",
            details={"accepted": accepted},
        )
    return list(dict.fromkeys(Dimension(name) for name in names))


async def usage_report(
    session: AsyncSession,
    *,
    period: Period,
    group_by: Sequence[Dimension],
    tenant_id: UUID | None,
) -> UsageReport:
    """Usage of one tenant (or every tenant when `tenant_id` is None)."""
    async with session.begin():
        rows = await queries.usage_rows(
            session, period=period, group_by=group_by, tenant_id=tenant_id
        )
    data = [_row_view(row, group_by) for row in rows]
    return UsageReport(
        start=period.start.date(),
        end=period.end.date() - timedelta(days=1),
        group_by=[dimension.value for dimension in group_by],
        totals=_totals(rows),
        data=data,
    )


def _row_view(row: RowMapping, group_by: Sequence[Dimension]) -> UsageRow:
    groups: dict[str, str | date] = {d.value: row[d.value] for d in group_by}
    return UsageRow(
        **groups,
        requests=row["requests"],
        succeeded=row["succeeded"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        cost_usd=usd(Decimal(row["cost_usd"])),
    )


def _totals(rows: Sequence[RowMapping]) -> UsageTotals:
    return UsageTotals(
        requests=sum(row["requests"] for row in rows),
        succeeded=sum(row["succeeded"] for row in rows),
        prompt_tokens=sum(row["prompt_tokens"] for row in rows),
        completion_tokens=sum(row["completion_tokens"] for row in rows),
        cost_usd=usd(sum((Decimal(row["cost_usd"]) for row in rows), Decimal(0))),
    )


def today_utc() -> date:
    """Today's date in UTC (the days of a usage report are UTC days)."""
    return datetime.now(UTC).date()
