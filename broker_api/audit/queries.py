"""Reading the audit trail: filtered, newest first, a page at a time by id."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.models import AuditEvent


@dataclass(frozen=True)
class AuditFilter:
    tenant: str | None = None
    actor: str | None = None
    action: str | None = None  # an exact action, or a family ending in `.` (`key.`)
    since: datetime | None = None
    until: datetime | None = None  # excluded
    before_id: int | None = None  # the cursor: entries older than this one


async def audit_page(
    session: AsyncSession, where: AuditFilter, *, limit: int
) -> list[AuditEvent]:
    """Up to `limit` + 1 entries (the extra one says whether a next page exists)."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
    if where.tenant is not None:
        query = query.where(AuditEvent.tenant == where.tenant)
    if where.actor is not None:
        query = query.where(AuditEvent.actor == where.actor)
    if where.action is not None and where.action.endswith("."):
        query = query.where(AuditEvent.action.startswith(where.action, autoescape=True))
    elif where.action is not None:
        query = query.where(AuditEvent.action == where.action)
    if where.since is not None:
        query = query.where(AuditEvent.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEvent.at < where.until)
    if where.before_id is not None:
        query = query.where(AuditEvent.id < where.before_id)
    return list(await session.scalars(query))
