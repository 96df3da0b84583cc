"""HTTP for usage: `GET /v1/usage` (the caller's) and `GET /admin/usage` (all)."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from broker_api.deps import AdminDep, CallerDep, SessionDep
from broker_api.periods import period_from_dates
from broker_api.usage import service
from broker_api.usage.service import ADMIN_DIMENSIONS, TENANT_DIMENSIONS
from broker_api.usage.views import UsageReport

router = APIRouter(tags=["usage"])

FromQuery = Annotated[
    date | None, Query(alias="from", description="first UTC day (default: 30 days ago)")
]
ToQuery = Annotated[date | None, Query(description="last UTC day, included (today)")]
GroupByQuery = Annotated[
    str, Query(description="comma-separated: model, provider, day, strategy")
]


@router.get("/v1/usage")
async def tenant_usage(
    session: SessionDep,
    caller: CallerDep,
    from_: FromQuery = None,
    to: ToQuery = None,
    group_by: GroupByQuery = "model",
) -> UsageReport:
    """Cost (exact USD), tokens and requests of the calling tenant, grouped."""
    period = period_from_dates(from_, to, today=service.today_utc())
    dimensions = service.parse_group_by(group_by, TENANT_DIMENSIONS)
    return await service.usage_report(
        session, period=period, group_by=dimensions, tenant_id=caller.tenant_id
    )


@router.get("/admin/usage", dependencies=[AdminDep])
async def admin_usage(
    session: SessionDep,
    from_: FromQuery = None,
    to: ToQuery = None,
    group_by: Annotated[
        str, Query(description="model, provider, day, strategy, tenant")
    ] = "tenant",
) -> UsageReport:
    """Usage of every tenant (the admin token), grouped; `tenant` is a group too."""
    period = period_from_dates(from_, to, today=service.today_utc())
    dimensions = service.parse_group_by(group_by, ADMIN_DIMENSIONS)
    return await service.usage_report(
        session, period=period, group_by=dimensions, tenant_id=None
    )
