"""HTTP for usage: `GET /v1/usage` (the caller's) and `GET /admin/usage` (all);
statements: `GET /v1/usage/export` (the caller's) and
`GET /admin/tenants/{slug}/usage/export`."""

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.deps import AdminDep, CallerDep, SessionDep
from broker_api.periods import period_from_dates
from broker_api.usage import export, service
from broker_api.usage.service import ADMIN_DIMENSIONS, TENANT_DIMENSIONS
from broker_api.usage.views import UsageReport, usd
from shared.tenancy import find_tenant

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


MonthQuery = Annotated[str, Query(description="the UTC month, YYYY-MM")]
FormatQuery = Annotated[
    str | None, Query(alias="format", description="csv or jsonl (else from Accept)")
]
AcceptHeader = Annotated[str | None, Header()]


async def _statement(
    request: Request,
    session: AsyncSession,
    tenant_id: UUID,
    month: str,
    fmt: str | None,
    accept: str | None,
) -> StreamingResponse:
    period = export.month_period(month)
    chosen = export.export_format(fmt, accept)
    statement = await export.statement(
        session,
        request.app.state.sessions,
        tenant_id=tenant_id,
        period=period,
        fmt=chosen,
    )
    return StreamingResponse(
        statement.body,
        media_type=export.MEDIA_TYPES[chosen],
        headers={
            export.TOTAL_HEADER: usd(statement.total_usd),
            export.ROWS_HEADER: str(statement.attempts),
        },
    )


@router.get("/v1/usage/export", response_class=StreamingResponse)
async def tenant_statement(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    month: MonthQuery,
    format_: FormatQuery = None,
    accept: AcceptHeader = None,
) -> StreamingResponse:
    """The calling tenant's statement for a month: one row per call to OpenRouter
    with its tokens, cost and where the cost comes from (docs/ledger.md)."""
    return await _statement(request, session, caller.tenant_id, month, format_, accept)


@router.get(
    "/admin/tenants/{slug}/usage/export",
    response_class=StreamingResponse,
    dependencies=[AdminDep],
)
async def admin_statement(
    slug: str,
    request: Request,
    session: SessionDep,
    month: MonthQuery,
    format_: FormatQuery = None,
    accept: AcceptHeader = None,
) -> StreamingResponse:
    """A tenant's statement for a month (the admin token)."""
    async with session.begin():
        tenant = await session.run_sync(find_tenant, slug)
        tenant_id = tenant.id
    return await _statement(request, session, tenant_id, month, format_, accept)
