"""What the API answers about a batch: OpenAI's batch object, with helixq's own
fields (route, per-status counts, completion window) beside OpenAI's."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, PlainSerializer, model_validator

from broker_api.files.views import file_id_text
from shared.db.models import Batch
from shared.db.upstream_batches import UpstreamBatch
from shared.jobs import batch_request_counts
from shared.redaction import redact

# A moment in unix seconds, as OpenAI's clients read it. Kept a datetime inside, so
# an answer stored for an Idempotency-Key in ISO form is still read back.
UnixTime = Annotated[
    datetime, PlainSerializer(lambda moment: int(moment.timestamp()), return_type=int)
]


class RequestCounts(BaseModel):
    total: int
    completed: int  # OpenAI's name for succeeded
    failed: int
    succeeded: int
    cancelled: int
    expired: int
    pending: int  # queued or running

    @model_validator(mode="before")
    @classmethod
    def _completed_is_succeeded(cls, data: Any) -> Any:
        if isinstance(data, dict) and "completed" not in data:
            return {**data, "completed": data.get("succeeded", 0)}
        return data


class BatchError(BaseModel):
    code: str
    message: str
    param: str | None = None
    line: int | None = None


class BatchErrors(BaseModel):
    object: Literal["list"] = "list"
    data: list[BatchError]


class UpstreamBatchView(BaseModel):
    """One OpenRouter Batch API batch carrying some of a batch's discount lines."""

    id: str | None  # OpenRouter's id; null until OpenRouter answered the POST
    model: str
    # submitting, then OpenRouter's status; refused (its lines ran realtime) or
    # withdrawn (the batch was cancelled before it was sent)
    status: str
    request_count: int
    cost_usd: Decimal | None
    error: str | None
    # OpenRouter answered 402 (credits short): the results wait upstream.
    payment_required: bool
    sent_at: UnixTime | None
    results_stored_at: UnixTime | None


def upstream_batch_view(row: UpstreamBatch) -> UpstreamBatchView:
    return UpstreamBatchView(
        id=row.upstream_id,
        model=row.model,
        status=row.status,
        request_count=row.request_count,
        cost_usd=row.cost_usd,
        error=row.error,
        payment_required=row.payment_required_at is not None,
        sent_at=row.sent_at,
        results_stored_at=row.results_stored_at,
    )


class BatchView(BaseModel):
    id: UUID
    object: Literal["batch"] = "batch"
    endpoint: str = "/v1/chat/completions"
    errors: BatchErrors | None = None
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    status: str
    # As asked: auto, discount or realtime. Answers stored for an Idempotency-Key
    # before batches had lanes are replayed too: those batches ran realtime.
    lane: str = "realtime"
    completion_window: str
    request_counts: RequestCounts
    route: dict[str, Any] | None
    metadata: dict[str, str] | None
    created_at: UnixTime
    expires_at: UnixTime
    in_progress_at: UnixTime | None
    finalizing_at: UnixTime | None
    completed_at: UnixTime | None
    failed_at: UnixTime | None
    cancelling_at: UnixTime | None = None
    cancelled_at: UnixTime | None
    expired_at: UnixTime | None
    # The discount lane's upstream batches (GET /v1/batches/{id} only).
    upstream_batches: list[UpstreamBatchView] | None = None


class BatchList(BaseModel):
    object: Literal["list"] = "list"
    data: list[BatchView]
    first_id: UUID | None = None
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
        endpoint=batch.endpoint,
        errors=BatchErrors.model_validate({"data": batch.errors})
        if batch.errors is not None
        else None,
        input_file_id=_file_id(batch.input_file_id),
        output_file_id=_file_id(batch.output_file_id),
        error_file_id=_file_id(batch.error_file_id),
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
        cancelling_at=batch.cancelling_at,
        cancelled_at=batch.cancelled_at,
        expired_at=batch.expired_at,
    )


def _file_id(file_id: UUID | None) -> str | None:
    return None if file_id is None else file_id_text(file_id)


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
