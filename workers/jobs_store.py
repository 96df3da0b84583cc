"""SQL for a job's life in a worker: claim, record an attempt, finish, fail, release.

Plain functions taking a Session; each is one statement, so the worker's engine runs
them in autocommit mode: one round trip each, no BEGIN/COMMIT. Each write after the
claim is guarded by the claim token, so a worker whose lease was taken over changes
nothing. The claim reads everything the call needs in the same statement.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID, uuid4

from sqlalchemy import CursorResult, Result, text
from sqlalchemy.orm import Session

from shared.jobs import AttemptOutcome
from workers.openrouter.schemas import JsonObject


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this worker now holds, with what it needs to make the call."""

    id: UUID
    claim_token: UUID
    request: JsonObject
    route: JsonObject | None
    retries: int
    tenant_default_model: str | None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One upstream call, as the ledger keeps it."""

    job_id: UUID
    model: str
    outcome: AttemptOutcome
    started_at: datetime
    latency_ms: int
    http_status: int | None = None
    generation_id: str | None = None
    provider: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: Decimal | None = None


_CLAIM = text("""
UPDATE jobs SET status = 'running', claim_token = :token,
    lease_expires_at = now() + make_interval(secs => :lease_s),
    started_at = coalesce(jobs.started_at, now())
FROM tenants
WHERE jobs.id = :job_id AND tenants.id = jobs.tenant_id
  AND ((jobs.status = 'queued' AND jobs.available_at <= now())
       OR (jobs.status = 'running' AND jobs.lease_expires_at < now()))
RETURNING jobs.request, jobs.route, jobs.retries, tenants.default_model
""")

_INSERT_ATTEMPT = """
INSERT INTO attempts (id, job_id, number, model, provider, generation_id, outcome,
    http_status, error_code, error_message, prompt_tokens, completion_tokens,
    cost_usd, latency_ms, started_at)
VALUES (:attempt_id, :job_id,
    (SELECT coalesce(max(number), 0) + 1 FROM attempts WHERE job_id = :job_id),
    :model, :provider, :generation_id, :outcome, :http_status, :attempt_error_code,
    :attempt_error_message, :prompt_tokens, :completion_tokens, :cost_usd,
    :latency_ms, :started_at)
"""
# The attempt and the job's new state go in one statement: one round trip, atomic
# without a transaction block, and the attempt is written even when the claim was
# lost (the ledger equals the calls made).
_WITH_ATTEMPT = f"WITH attempt AS ({_INSERT_ATTEMPT})"

# The job's cost is the ledger's: every attempt, failed ones included. A statement
# does not see rows its own CTE inserts, so this attempt's cost is added explicitly.
_LEDGER_COST = """(SELECT sum(cost) FROM (
    SELECT cost_usd FROM attempts WHERE job_id = :job_id
    UNION ALL SELECT CAST(:cost_usd AS numeric)) AS ledger (cost))"""
_HELD = "WHERE id = :job_id AND claim_token = :token AND status = 'running'"

_FINISH_SQL = f"""
UPDATE jobs SET status = 'succeeded', result = CAST(:result AS jsonb),
    model = :model, provider = :provider, prompt_tokens = :prompt_tokens,
    completion_tokens = :completion_tokens, latency_ms = :latency_ms,
    cost_usd = {_LEDGER_COST}, error_code = NULL, error_message = NULL,
    lease_expires_at = NULL, finished_at = now()
{_HELD}"""

_FAIL_SQL = f"""
UPDATE jobs SET status = 'failed', error_code = :code, error_message = :message,
    cost_usd = {_LEDGER_COST}, lease_expires_at = NULL, finished_at = now()
{_HELD}"""

_RELEASE_SQL = f"""
UPDATE jobs SET status = 'queued', claim_token = NULL, lease_expires_at = NULL,
    available_at = now() + make_interval(secs => :delay_s), retries = retries + 1,
    error_code = :code, error_message = :message
{_HELD}"""

_RECORD_ATTEMPT = text(_INSERT_ATTEMPT)
_FINISH = text(f"{_WITH_ATTEMPT} {_FINISH_SQL}")
_FAIL = text(_FAIL_SQL)
_FAIL_AFTER_CALL = text(f"{_WITH_ATTEMPT} {_FAIL_SQL}")
_RELEASE = text(f"{_WITH_ATTEMPT} {_RELEASE_SQL}")


def claim_job(session: Session, job_id: UUID, *, lease_s: float) -> ClaimedJob | None:
    """Take the job if it is due (queued and available, or its lease expired);
    None when it is finished, not yet due, or held by another worker."""
    token = uuid4()
    row = session.execute(
        _CLAIM, {"job_id": job_id, "token": token, "lease_s": lease_s}
    ).one_or_none()
    if row is None:
        return None
    return ClaimedJob(
        id=job_id,
        claim_token=token,
        request=row.request,
        route=row.route,
        retries=row.retries,
        tenant_default_model=row.default_model,
    )


def record_attempt(session: Session, attempt: AttemptRecord) -> None:
    """Append one call to the job's ledger, numbered after the ones before it."""
    session.execute(_RECORD_ATTEMPT, _attempt_params(attempt))


def finish_job(
    session: Session, job: ClaimedJob, attempt: AttemptRecord, *, result_json: str
) -> bool:
    """Record the successful attempt and mark the job succeeded with its result
    (JSON text); False if the claim was lost (the attempt is recorded anyway)."""
    params = {**_attempt_params(attempt), "token": job.claim_token}
    return _changed(session.execute(_FINISH, {**params, "result": result_json}))


def fail_job(
    session: Session,
    job: ClaimedJob,
    *,
    attempt: AttemptRecord | None,
    code: str,
    message: str,
) -> bool:
    """Record the last attempt (if a call was made) and mark the job failed for
    good; False if the claim was lost."""
    params: dict[str, object]
    if attempt is None:
        statement, params = _FAIL, {"job_id": job.id, "cost_usd": None}
    else:
        statement, params = _FAIL_AFTER_CALL, _attempt_params(attempt)
    outcome = {"token": job.claim_token, "code": code, "message": message}
    return _changed(session.execute(statement, {**params, **outcome}))


def release_job(
    session: Session, job: ClaimedJob, attempt: AttemptRecord, *, delay_s: float
) -> bool:
    """Record the failed attempt and put the job back in the queue for a retry in
    `delay_s`, counting the retry and keeping the error for the curious; False if
    the claim was lost."""
    params = {
        **_attempt_params(attempt),
        "token": job.claim_token,
        "delay_s": delay_s,
        "code": attempt.error_code,
        "message": attempt.error_message,
    }
    return _changed(session.execute(_RELEASE, params))


def _attempt_params(attempt: AttemptRecord) -> dict[str, object]:
    return {
        "attempt_id": uuid4(),
        "job_id": attempt.job_id,
        "model": attempt.model,
        "provider": attempt.provider,
        "generation_id": attempt.generation_id,
        "outcome": attempt.outcome.value,
        "http_status": attempt.http_status,
        "attempt_error_code": attempt.error_code,
        "attempt_error_message": attempt.error_message,
        "prompt_tokens": attempt.prompt_tokens,
        "completion_tokens": attempt.completion_tokens,
        "cost_usd": attempt.cost_usd,
        "latency_ms": attempt.latency_ms,
        "started_at": attempt.started_at,
    }


def _changed(result: Result[Any]) -> bool:
    # An UPDATE's result is a CursorResult, which knows how many rows matched.
    return cast(CursorResult[Any], result).rowcount > 0
