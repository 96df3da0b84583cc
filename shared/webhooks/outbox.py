"""The webhook outbox: an event becomes a delivery row in the transaction that
finishes its job or batch, so an event is never lost nor sent for a rollback.

Plain functions over a sync Session; the API calls them through `run_sync`.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db.models import Batch, Job, Tenant, WebhookDelivery, WebhookEndpoint
from shared.webhooks.events import (
    EventType,
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
    destination = destination_url(session, tenant_id, url)
    if destination is None or is_disabled(session, tenant_id, destination):
        return None
    delivery = WebhookDelivery(
        tenant_id=tenant_id,
        event_type=event_type.value,
        resource_id=resource_id,
        url=destination,
        payload=payload,
        status=DeliveryStatus.PENDING.value,
        attempts_log=[],
        next_attempt_at=func.now(),  # due at once, by the clock claims compare with
    )
    session.add(delivery)
    session.flush()
    return delivery.id


def record_job_event(session: Session, job: Job, *, now: datetime) -> UUID | None:
    """Record `job.succeeded` or `job.failed` for a finished job (else nothing)."""
    event_type = job_event_type(job.status)
    if event_type is None:
        return None
    return record_event(
        session,
        tenant_id=job.tenant_id,
        event_type=event_type,
        resource_id=job.id,
        url=job.webhook_url,
        payload=event_payload(event_type, job_data(job), now=now),
    )


def record_batch_event(session: Session, batch: Batch, *, now: datetime) -> UUID | None:
    """Record the `batch.*` event of a batch that ended (else nothing)."""
    event_type = batch_event_type(batch.status)
    if event_type is None:
        return None
    return record_event(
        session,
        tenant_id=batch.tenant_id,
        event_type=event_type,
        resource_id=batch.id,
        url=batch.webhook_url,
        payload=event_payload(event_type, batch_data(batch), now=now),
    )
