"""What the API answers about a batch."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel

from shared.db.models import Batch
from shared.jobs import batch_request_counts
from shared.redaction import redact


class RequestCounts(BaseModel):
    total: int
    succeeded: int
    failed: int
    cancelled: int
    expired: int
    pending: int  # queued or running


class BatchView(BaseModel):
    id: UUID
    object: Literal["batch"] = "batch"
    status: str
    # As asked: auto, discount or realtime. Answers stored for an Idempotency-Key
    # before batches had lanes are replayed too: those batches ran realtime.
    lane: str = "realtime"
    completion_window: str
    request_counts: RequestCounts
    route: dict[str, Any] | None
    metadata: dict[str, str] | None
    created_at: datetime
    expires_at: datetime
    in_progress_at: datetime | None
    finalizing_at: datetime | None
    completed_at: datetime | None
    failed_at: datetime | None
    cancelled_at: datetime | None
    expired_at: datetime | None


class BatchList(BaseModel):
    object: Literal["list"] = "list"
    data: list[BatchView]
    has_more: bool
    last_id: UUID | None


def request_counts(total: int, by_status: dict[str, int]) -> RequestCounts:
    return RequestCounts.model_validate(batch_request_counts(total, by_status))


def window_text(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def batch_view(batch: Batch, by_status: dict[str, int]) -> BatchView:
    """`by_status` counts the batch's jobs; frozen counts win once the batch ended."""
    counts = (
        RequestCounts.model_validate(batch.request_counts)
        if batch.request_counts
        else request_counts(batch.total, by_status)
    )
    return BatchView(
        id=batch.id,
        status=batch.status,
        lane=batch.lane,
        completion_window=window_text(batch.completion_window_s),
        request_counts=counts,
        route=batch.route,
        metadata=batch.metadata_,
        created_at=batch.created_at,
        expires_at=batch.expires_at,
        in_progress_at=batch.in_progress_at,
        finalizing_at=batch.finalizing_at,
        completed_at=batch.completed_at,
        failed_at=batch.failed_at,
        cancelled_at=batch.cancelled_at,
        expired_at=batch.expired_at,
    )


def result_line(row: Any) -> dict[str, Any]:
    """One line of the results file, in the spirit of OpenAI's batch output."""
    response = (
        {"status_code": 200, "body": row.result} if row.result is not None else None
    )
    error = (
        {"code": row.error_code, "message": _served_text(row.error_message)}
        if row.error_code
        else None
    )
    return {
        "id": str(row.id),
        "custom_id": row.custom_id,
        "status": row.status,
        "response": response,
        "error": error,
        "model": row.model,
        "cost_usd": str(row.cost_usd) if row.cost_usd is not None else None,
        "latency_ms": row.latency_ms,
    }


def _served_text(text: str | None) -> str | None:
    # Whatever a stored row holds, no secret shape is served (docs/monitoring.md).
    return None if text is None else redact(text)
