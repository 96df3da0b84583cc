"""The webhook outbox: an event becomes a delivery row in the transaction that
finishes its job or batch, so an event is never lost nor sent for a rollback.

Plain functions over a sync Session; the API calls them through `run_sync`.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db.models import Batch, Job, Tenant, WebhookDelivery, WebhookEndpoint
from shared.webhooks.events import (
    EventType,
    JobFacts,
    batch_data,
    batch_event_type,
    event_payload,
    job_data,
    job_event_type,
)


class DeliveryStatus(StrEnum):
    """The values of `webhook_deliveries.status`."""

    PENDING = "pending"
    DELIVERING = "delivering"  # claimed; next_attempt_at is then the claim's lease
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DISABLED = "disabled"  # its endpoint answered 410 Gone


def destination_url(session: Session, tenant_id: UUID, url: str | None) -> str | None:
    """Where an event goes: its own URL, else the tenant's default, else nowhere."""
    if url:
        return url
    return session.scalar(select(Tenant.webhook_url).where(Tenant.id == tenant_id))


def is_disabled(session: Session, tenant_id: UUID, url: str) -> bool:
    """Whether the endpoint answered 410 Gone and was not registered again since."""
    disabled_at = session.scalar(
        select(WebhookEndpoint.disabled_at).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.url == url
        )
    )
    return disabled_at is not None


@dataclass(frozen=True, slots=True)
class Event:
    """One event about a tenant's job or batch, ready for the outbox."""

    tenant_id: UUID
    type: EventType
    resource_id: UUID
    payload: dict[str, Any]

    def pending_delivery(self, url: str) -> dict[str, Any]:
        """The columns of its outbox row to `url`, before any try. The writer makes
        it due at once by the database clock, the one claims compare with."""
        return {
            "tenant_id": self.tenant_id,
            "event_type": self.type.value,
            "resource_id": self.resource_id,
            "url": url,
            "payload": self.payload,
            "status": DeliveryStatus.PENDING.value,
            "attempts_log": [],
        }


def job_event(job: JobFacts, *, now: datetime) -> Event | None:
    """`job.succeeded` or `job.failed` for a finished job; None for other states."""
    event_type = job_event_type(job.status)
    if event_type is None:
        return None
    payload = event_payload(event_type, job_data(job), now=now)
    return Event(job.tenant_id, event_type, job.id, payload)


def batch_event(batch: Batch, *, now: datetime) -> Event | None:
    """The `batch.*` event of a batch that ended; None while it is live."""
    event_type = batch_event_type(batch.status)
    if event_type is None:
        return None
    payload = event_payload(event_type, batch_data(batch), now=now)
    return Event(batch.tenant_id, event_type, batch.id, payload)


def record_event(
    session: Session,
    *,
    tenant_id: UUID,
    event_type: EventType,
    resource_id: UUID,
    url: str | None,
    payload: dict[str, Any],
) -> UUID | None:
    """Add a pending delivery; None when there is no URL or it is disabled.

    Call inside the transaction that finishes the resource; after the commit, send
    `TaskName.DELIVER_WEBHOOK` with the returned id (the sweep sends it otherwise).
    """
    return _record(session, Event(tenant_id, event_type, resource_id, payload), url)


def record_job_event(session: Session, job: Job, *, now: datetime) -> UUID | None:
    """Record `job.succeeded` or `job.failed` for a finished job (else nothing)."""
    event = job_event(job, now=now)
    return None if event is None else _record(session, event, job.webhook_url)


def record_batch_event(session: Session, batch: Batch, *, now: datetime) -> UUID | None:
    """Record the `batch.*` event of a batch that ended (else nothing)."""
    event = batch_event(batch, now=now)
    return None if event is None else _record(session, event, batch.webhook_url)


def _record(session: Session, event: Event, url: str | None) -> UUID | None:
    destination = destination_url(session, event.tenant_id, url)
    if destination is None or is_disabled(session, event.tenant_id, destination):
        return None
    delivery = WebhookDelivery(
        **event.pending_delivery(destination), next_attempt_at=func.now()
    )
    session.add(delivery)
    session.flush()
    return delivery.id
