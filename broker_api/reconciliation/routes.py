"""`GET /admin/reconciliation`: how the ledger's costs are known, and where it
differs from OpenRouter's account (workers.maintenance.cost_reconciliation)."""

from datetime import timedelta

from fastapi import APIRouter

from broker_api.deps import AdminDep, SessionDep
from broker_api.periods import period_from_dates
from broker_api.reconciliation import queries
from broker_api.reconciliation.views import (
    DifferenceRow,
    LedgerSource,
    ReconciliationReport,
)
from broker_api.usage import service
from broker_api.usage.routes import FromQuery, ToQuery
from broker_api.usage.views import usd

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep])


@router.get("/reconciliation")
async def reconciliation(
    session: SessionDep, from_: FromQuery = None, to: ToQuery = None
) -> ReconciliationReport:
    """The ledger by cost source and the differences per model and day (the
    last 30 days unless `from`/`to` say otherwise)."""
    period = period_from_dates(from_, to, today=service.today_utc())
    async with session.begin():
        sources = await queries.ledger_by_source(session, period)
        differences = await queries.differences(session, period)
    return ReconciliationReport(
        start=period.start.date(),
        end=period.end.date() - timedelta(days=1),
        ledger=[
            LedgerSource(
                cost_source=row["cost_source"],
                attempts=row["attempts"],
                cost_usd=usd(row["cost_usd"]),
                without_cost=row["without_cost"],
            )
            for row in sources
        ],
        differences=[
            DifferenceRow(
                day=row.day,
                model=row.model,
                upstream_key=row.upstream_key,
                upstream_usd=usd(row.upstream_usd),
                ledger_usd=usd(row.ledger_usd),
                difference_usd=usd(row.difference_usd),
                attributed_usd=usd(row.attributed_usd),
                unattributed_usd=usd(row.difference_usd - row.attributed_usd),
                attributed_attempts=row.attributed_attempts,
                upstream_requests=row.upstream_requests,
                ledger_requests=row.ledger_requests,
                checked_at=row.checked_at,
            )
            for row in differences
        ],
    )
