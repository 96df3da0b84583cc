"""What the API answers about a job."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.redaction import RedactedText


class ErrorView(BaseModel):
    code: str
    message: RedactedText


class UsageView(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AttemptView(BaseModel):
    number: int
    model: str
    provider: str | None
    generation_id: str | None
    lane: str  # realtime or discount
    outcome: str = Field(
        description="succeeded, retryable or permanent once answered; started while"
        " the call is in flight; interrupted when its worker stopped or died"
        " mid-call (the call may have been billed, its cost is unknown)"
    )
    http_status: int | None
    error: ErrorView | None
    usage: UsageView | None
    cost_usd: Decimal | None
    latency_ms: int | None  # None while the call is in flight
    started_at: datetime


class JobAccepted(BaseModel):
    id: UUID
    object: Literal["job"] = "job"
    status: str
    custom_id: str | None
    created_at: datetime


class JobView(JobAccepted):
    lane: str = Field(
        description="realtime, or discount: run through OpenRouter's Batch API"
    )
    model: str | None
    provider: str | None
    metadata: dict[str, str] | None
    route: dict[str, Any] | None
    routing: dict[str, Any] | None
    result: dict[str, Any] | None
    error: ErrorView | None
    usage: UsageView | None
    cost_usd: Decimal | None
    latency_ms: int | None
    retries: int
    started_at: datetime | None
    finished_at: datetime | None
    attempts: list[AttemptView]


def _error(code: str | None, message: str | None) -> ErrorView | None:
    return ErrorView(code=code, message=message or "") if code else None


def _usage(prompt: int | None, completion: int | None) -> UsageView | None:
    if prompt is None and completion is None:
        return None
    prompt, completion = prompt or 0, completion or 0
    return UsageView(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
    )


# Rows as psycopg reads them (broker_api.jobs.queries): column name → value.
Row = Mapping[str, Any]


def accepted_view(job: Row) -> JobAccepted:
    return JobAccepted(
        id=job["id"],
        status=job["status"],
        custom_id=job["custom_id"],
        created_at=job["created_at"],
    )


def attempt_view(attempt: Row) -> AttemptView:
    return AttemptView(
        number=attempt["number"],
        model=attempt["model"],
        provider=attempt["provider"],
        generation_id=attempt["generation_id"],
        lane=attempt["lane"],
        outcome=attempt["outcome"],
        http_status=attempt["http_status"],
        error=_error(attempt["error_code"], attempt["error_message"]),
        usage=_usage(attempt["prompt_tokens"], attempt["completion_tokens"]),
        cost_usd=attempt["cost_usd"],
        latency_ms=attempt["latency_ms"],
        started_at=attempt["started_at"],
    )


def job_view(job: Row, attempts: Sequence[Row]) -> JobView:
    return JobView(
        **accepted_view(job).model_dump(),
        lane=job["lane"],
        model=job["model"],
        provider=job["provider"],
        metadata=job["metadata"],
        route=job["route"],
        routing=job["routing"],
        result=job["result"],
        error=_error(job["error_code"], job["error_message"]),
        usage=_usage(job["prompt_tokens"], job["completion_tokens"]),
        cost_usd=job["cost_usd"],
        latency_ms=job["latency_ms"],
        retries=job["retries"],
        started_at=job["started_at"],
        finished_at=job["finished_at"],
        attempts=[attempt_view(attempt) for attempt in attempts],
    )
