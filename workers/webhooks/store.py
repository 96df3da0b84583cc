"""SQL of the delivery outbox: claim a row, record a try, find due rows.

A row is claimed `pending → delivering` by a conditional UPDATE, and while it is
delivering its `next_attempt_at` is a lease: a worker that dies mid-send leaves a
row the sweep hands out again once the lease ends.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from shared.db.models import WebhookDelivery, WebhookEndpoint
from shared.webhooks.outbox import DeliveryStatus, is_disabled
from shared.webhooks.secrets import signing_secrets

# A message sent just before its row is due (clock skew) still claims it.
CLAIM_EARLY_S = 1.0


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker owns until it records the try."""

    id: UUID
    tenant_id: UUID
    url: str
    payload: dict[str, Any]
    attempt_count: int
    signing_secrets: list[str]

    def __repr__(self) -> str:
        # Keep the secrets out of logs and tracebacks.
        return f"Claimed(id={self.id}, attempt_count={self.attempt_count})"


def _is_claimable() -> ColumnElement[bool]:
    now = func.now()
    return or_(
        and_(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now + timedelta(seconds=CLAIM_EARLY_S),
        ),
        and_(
            WebhookDelivery.status == DeliveryStatus.DELIVERING,
            WebhookDelivery.next_attempt_at <= now,
        ),
    )


def claim(
    session: Session, delivery_id: UUID, *, lease_s: float, now: datetime
) -> Claimed | None:
    """Take a due delivery; None if it is not due, taken, or finished.

    A delivery to a disabled endpoint is marked disabled here, and not sent.
    """
    row = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, _is_claimable())
        .values(
            status=DeliveryStatus.DELIVERING,
            next_attempt_at=func.now() + timedelta(seconds=lease_s),
        )
        .returning(
            WebhookDelivery.tenant_id,
            WebhookDelivery.url,
            WebhookDelivery.payload,
            WebhookDelivery.attempt_count,
        )
    ).one_or_none()
    if row is None:
        return None
    if is_disabled(session, row.tenant_id, row.url):
        _set_status(session, delivery_id, DeliveryStatus.DISABLED)
        return None
    return Claimed(
        id=delivery_id,
        tenant_id=row.tenant_id,
        url=row.url,
        payload=row.payload,
        attempt_count=row.attempt_count,
        signing_secrets=signing_secrets(session, row.tenant_id, now=now),
    )


def _set_status(session: Session, delivery_id: UUID, status: str) -> None:
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(status=status, next_attempt_at=None)
    )


@dataclass(frozen=True)
class TryRecord:
    """What one try ended as, and what the row becomes."""

    log_entry: dict[str, Any]
    status: str
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None


def record_try(session: Session, delivery_id: UUID, record: TryRecord) -> bool:
    """Log the try and move the row on; False if this worker lost its claim."""
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != DeliveryStatus.DELIVERING:
        return False
    delivery.attempt_count += 1
    delivery.attempts_log = [*delivery.attempts_log, record.log_entry]
    delivery.status = record.status
    delivery.next_attempt_at = record.next_attempt_at
    delivery.delivered_at = record.delivered_at
    session.flush()
    return True


def disable_endpoint(
    session: Session, tenant_id: UUID, url: str, *, now: datetime, reason: str
) -> int:
    """Mark the endpoint gone and its waiting deliveries disabled; how many."""
    # An upsert: two workers may see the 410 of the same URL at once.
    session.execute(
        insert(WebhookEndpoint)
        .values(tenant_id=tenant_id, url=url, disabled_at=now, disabled_reason=reason)
        .on_conflict_do_update(
            index_elements=[WebhookEndpoint.tenant_id, WebhookEndpoint.url],
            set_={"disabled_at": now, "disabled_reason": reason},
        )
    )
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.tenant_id == tenant_id,
            WebhookDelivery.url == url,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.DISABLED, next_attempt_at=None)
    )
    session.flush()
    # execute() is typed as Result, but an UPDATE gives a CursorResult.
    return int(result.rowcount)  # type: ignore[attr-defined]


def due_deliveries(session: Session, *, grace_s: float, limit: int) -> list[UUID]:
    """Deliveries whose message may be lost: due a while ago, or a lapsed lease."""
    now = func.now()
    query = (
        select(WebhookDelivery.id)
        .where(
            or_(
                and_(
                    WebhookDelivery.status == DeliveryStatus.PENDING,
                    WebhookDelivery.next_attempt_at <= now - timedelta(seconds=grace_s),
                ),
                and_(
                    WebhookDelivery.status == DeliveryStatus.DELIVERING,
                    WebhookDelivery.next_attempt_at <= now,
                ),
            )
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return list(session.scalars(query))
