"""What the ledger keeps of one upstream call, built from its answer, its error or
what it produced before its client left (pure)."""

from dataclasses import replace
from datetime import UTC, datetime
from typing import NamedTuple

from shared.cost import answered_cost, failed_cost
from shared.jobs import AttemptOutcome
from workers.jobs.records import AttemptRecord, Call, ClaimedJob, priced
from workers.openrouter.errors import UpstreamError
from workers.openrouter.schemas import Completion


class Succeeded(NamedTuple):
    """A call's attempt record and the job result it produced (JSON text)."""

    attempt: AttemptRecord
    result_json: str


def succeeded_attempt(job: ClaimedJob, call: Call, completion: Completion) -> Succeeded:
    cost = answered_cost(
        completion.cost_usd,
        model=call.pricing,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        reserve_usd=call.reserve_usd,
    )
    record = AttemptRecord(
        id=call.id,
        job_id=job.id,
        model=completion.model or call.model,
        outcome=AttemptOutcome.SUCCEEDED,
        started_at=call.started_at,
        latency_ms=completion.latency_ms,
        http_status=completion.http_status,
        generation_id=completion.generation_id,
        provider=completion.provider,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        first_token_ms=completion.first_token_ms,
        details=completion.details,
    )
    return Succeeded(priced(record, cost), completion.body_json)


CLIENT_LEFT = "client_disconnected"
CLIENT_LEFT_MESSAGE = (
    "the client closed the stream; the call was closed and the job keeps what was"
    " generated until then"
)


def cancelled_attempt(job: ClaimedJob, call: Call, partial: Completion) -> Succeeded:
    """The call cut off when the client left, with what it produced."""
    record, result_json = succeeded_attempt(job, call, partial)
    return Succeeded(
        replace(
            record,
            outcome=AttemptOutcome.CANCELLED,
            error_code=CLIENT_LEFT,
            error_message=CLIENT_LEFT_MESSAGE,
        ),
        result_json,
    )


def failed_attempt(job: ClaimedJob, call: Call, error: UpstreamError) -> AttemptRecord:
    elapsed = datetime.now(UTC) - call.started_at
    outcome = (
        AttemptOutcome.RETRYABLE if error.is_retryable else AttemptOutcome.PERMANENT
    )
    cost = failed_cost(
        error.cost_usd, http_status=error.http_status, reserve_usd=call.reserve_usd
    )
    record = AttemptRecord(
        id=call.id,
        job_id=job.id,
        model=call.model,
        outcome=outcome,
        started_at=call.started_at,
        latency_ms=round(elapsed.total_seconds() * 1000),
        http_status=error.http_status,
        error_code=error.code,
        error_message=error.message,
    )
    return priced(record, cost)
