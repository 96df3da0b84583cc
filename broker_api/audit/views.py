"""Audit trail answers."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from shared.db.models import AuditEvent


class AuditEntry(BaseModel):
    id: str
    at: datetime
    actor: str  # `admin` or the acting key's prefix
    action: str
    tenant: str | None
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    source: str | None  # the client's address, or `cli`

    @classmethod
    def of(cls, event: AuditEvent) -> "AuditEntry":
        return cls(
            id=str(event.id),
            at=event.at,
            actor=event.actor,
            action=event.action,
            tenant=event.tenant,
            target=event.target,
            before=event.before,
            after=event.after,
            source=event.source,
        )


class AuditPage(BaseModel):
    """Newest first; pass `next_cursor` as `cursor` for the next page."""

    object: Literal["list"] = "list"
    data: list[AuditEntry]
    next_cursor: str | None
