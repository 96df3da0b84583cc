"""Webhook events and their payloads: summaries of a job or batch, never secrets."""

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from shared.db.models import Batch
from shared.jobs import BatchStatus, JobStatus


class EventType(StrEnum):
    JOB_SUCCEEDED = "job.succeeded"
    JOB_FAILED = "job.failed"
    BATCH_COMPLETED = "batch.completed"
    BATCH_FAILED = "batch.failed"
    BATCH_CANCELLED = "batch.cancelled"
    BATCH_EXPIRED = "batch.expired"
    BUDGET_THRESHOLD_REACHED = "budget.threshold_reached"


_JOB_EVENTS = {
    JobStatus.SUCCEEDED: EventType.JOB_SUCCEEDED,
    JobStatus.FAILED: EventType.JOB_FAILED,
}
_BATCH_EVENTS = {
    BatchStatus.COMPLETED: EventType.BATCH_COMPLETED,
    BatchStatus.FAILED: EventType.BATCH_FAILED,
    BatchStatus.CANCELLED: EventType.BATCH_CANCELLED,
    BatchStatus.EXPIRED: EventType.BATCH_EXPIRED,
}


class JobFacts(Protocol):
    """What a job event is built from: a `Job` row, or the columns the worker's
    finishing statement returns (workers.webhooks.job_events)."""

    @property
    def id(self) -> UUID: ...
    @property
    def tenant_id(self) -> UUID: ...
    @property
    def status(self) -> str: ...
    @property
    def custom_id(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def cost_usd(self) -> Decimal | None: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def batch_id(self) -> UUID | None: ...
    @property
    def finished_at(self) -> datetime | None: ...


def job_event_type(status: str) -> EventType | None:
    """The event a job ending in `status` announces; None for no event."""
    return _JOB_EVENTS.get(JobStatus(status))


def batch_event_type(status: str) -> EventType | None:
    """The event a batch ending in `status` announces; None for no event."""
    return _BATCH_EVENTS.get(BatchStatus(status))


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def event_payload(
    event_type: EventType, data: dict[str, Any], *, now: datetime
) -> dict[str, Any]:
    """The envelope every webhook body has: type, timestamp and data."""
    return {"type": event_type.value, "timestamp": _iso(now), "data": data}


def job_data(job: JobFacts) -> dict[str, Any]:
    """What a job event tells: status, model, cost (a decimal string), error."""
    error = None
    if job.error_code:
        error = {"code": job.error_code, "message": job.error_message or ""}
    return {
        "id": str(job.id),
        "object": "job",
        "status": job.status,
        "custom_id": job.custom_id,
        "model": job.model,
        "cost_usd": None if job.cost_usd is None else str(job.cost_usd),
        "error": error,
        "batch_id": None if job.batch_id is None else str(job.batch_id),
        "finished_at": _iso(job.finished_at),
    }


def batch_data(batch: Batch) -> dict[str, Any]:
    """What a batch event tells: status, counts and when it ended."""
    ended_at = (
        batch.completed_at or batch.failed_at or batch.cancelled_at or batch.expired_at
    )
    return {
        "id": str(batch.id),
        "object": "batch",
        "status": batch.status,
        "total": batch.total,
        "request_counts": batch.request_counts,
        "created_at": _iso(batch.created_at),
        "ended_at": _iso(ended_at),
    }


def budget_alert_data(
    *,
    alert_id: UUID,
    tenant: str,
    period: str,
    threshold_pct: int,
    budget_usd: Decimal,
    spent_usd: Decimal,
) -> dict[str, Any]:
    """What a budget alert tells: the threshold, the period and the spend."""
    return {
        "id": str(alert_id),
        "object": "budget_alert",
        "tenant": tenant,
        "period": period,
        "threshold_percent": threshold_pct,
        "budget_usd": str(budget_usd),
        "spent_usd": str(spent_usd),
    }
