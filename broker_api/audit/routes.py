"""The audit trail: `GET /admin/audit` (every entry) and `GET /v1/audit` (the
calling tenant's key events, with the `keys` scope)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from broker_api.audit.queries import AuditFilter, audit_page
from broker_api.audit.views import AuditEntry, AuditPage
from broker_api.deps import AdminDep, CallerDep, SessionDep
from broker_api.keys.views import in_utc
from shared.errors import InvalidRequest

router = APIRouter(tags=["audit"])

KEY_ACTIONS = "key."
MAX_PAGE = 500

ActorQuery = Annotated[
    str | None, Query(max_length=64, description="`admin` or a key prefix")
]
ActionQuery = Annotated[
    str | None,
    Query(max_length=64, description="an action (`key.revoke`) or family (`key.`)"),
]
SinceQuery = Annotated[datetime | None, Query(description="from this time (UTC)")]
UntilQuery = Annotated[datetime | None, Query(description="before this time (UTC)")]
CursorQuery = Annotated[
    str | None, Query(max_length=20, description="`next_cursor` of the last page")
]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@dataclass
class PageQuery:
    """The filters and paging both routes take."""

    actor: ActorQuery = None
    since: SinceQuery = None
    until: UntilQuery = None
    cursor: CursorQuery = None
    limit: LimitQuery = 100

    def where(self, tenant: str | None, action: str | None) -> AuditFilter:
        return AuditFilter(
            tenant,
            self.actor,
            action,
            in_utc(self.since),
            in_utc(self.until),
            _cursor(self.cursor),
        )


PageDep = Annotated[PageQuery, Depends()]


def _cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise InvalidRequest(
            "cursor must be the next_cursor of a previous page",
            details={"field": "cursor"},
        )
    return int(cursor)


async def _page(session: SessionDep, query: PageQuery, where: AuditFilter) -> AuditPage:
    async with session.begin():
        events = await audit_page(session, where, limit=query.limit)
    more = len(events) > query.limit
    events = events[: query.limit]
    return AuditPage(
        data=[AuditEntry.of(event) for event in events],
        next_cursor=str(events[-1].id) if more else None,
    )


@router.get("/admin/audit", dependencies=[AdminDep])
async def admin_audit(
    session: SessionDep,
    page: PageDep,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
    action: ActionQuery = None,
) -> AuditPage:
    """Every admin and key action, newest first."""
    return await _page(session, page, page.where(tenant, action))


@router.get("/v1/audit")
async def tenant_audit(
    session: SessionDep, caller: CallerDep, page: PageDep
) -> AuditPage:
    """The calling tenant's key events (created, rotated, revoked), newest first."""
    return await _page(session, page, page.where(caller.slug, KEY_ACTIONS))
