"""Run one completion job: claim → call OpenRouter → record → finish, fail or release.

Safe to run twice for the same job: the claim decides who works, and every write
after it is guarded by the claim token. No transaction is held across the call.
"""

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple
from uuid import UUID

from shared.jobs import AttemptOutcome
from workers import jobs_store
from workers.backoff import retry_delay_s
from workers.context import WorkerContext
from workers.jobs_store import AttemptRecord, ClaimedJob
from workers.openrouter.errors import UpstreamError
from workers.openrouter.schemas import Completion
from workers.routing import candidate_models, upstream_body

logger = logging.getLogger(__name__)

UPSTREAM_DISABLED = "upstream_disabled"


class OutcomeKind(StrEnum):
    NOT_CLAIMED = "not_claimed"  # finished, not yet due, or held elsewhere
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRY = "retry"  # released; the task re-publishes itself after `retry_in_s`
    CLAIM_LOST = "claim_lost"  # another worker took the job over meanwhile


class _Succeeded(NamedTuple):
    attempt: AttemptRecord
    result_json: str


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    retry_in_s: float | None = None


def run(job_id: UUID, ctx: WorkerContext) -> Outcome:
    """Work the job once; the outcome tells the task whether to retry and when."""
    with ctx.sessions.begin() as session:
        job = jobs_store.claim_job(
            session, job_id, lease_s=ctx.settings.helixq_job_lease_s
        )
    if job is None:
        logger.debug("job %s: not claimed", job_id)
        return Outcome(OutcomeKind.NOT_CLAIMED)
    if not ctx.settings.openrouter_enabled:
        return _fail(
            ctx,
            job,
            attempt=None,
            code=UPSTREAM_DISABLED,
            message="OPENROUTER_ENABLED=false",
        )
    models = candidate_models(
        job.request,
        tenant_default=job.tenant_default_model,
        default_model=ctx.settings.openrouter_default_model,
    )
    for index, model in enumerate(models):
        started_at = datetime.now(UTC)
        try:
            completion = ctx.openrouter.complete(
                job.id, upstream_body(job.request, model)
            )
        except UpstreamError as error:
            attempt = _failed_attempt(job, model, started_at, error)
            if error.is_retryable and index + 1 < len(models):
                with ctx.sessions.begin() as session:
                    jobs_store.record_attempt(session, attempt)
                continue  # the next candidate may answer
            return _settle_failure(ctx, job, attempt, error)
        return _finish(ctx, job, _succeeded_attempt(job, model, started_at, completion))
    raise ValueError(f"job {job_id}: no candidate model")


def retry_delay_for(
    error: UpstreamError,
    *,
    retries: int,
    max_retries: int,
    base_s: float,
    cap_s: float,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the next try, or None when the job should fail now."""
    if not error.is_retryable or retries >= max_retries:
        return None
    return retry_delay_s(
        retries, base_s=base_s, cap_s=cap_s, retry_after_s=error.retry_after_s, rng=rng
    )


def _finish(ctx: WorkerContext, job: ClaimedJob, attempt: _Succeeded) -> Outcome:
    record, result_json = attempt
    with ctx.sessions.begin() as session:
        finished = jobs_store.finish_job(session, job, record, result_json=result_json)
    if not finished:
        logger.warning("job %s: claim lost before finishing; attempt kept", job.id)
        return Outcome(OutcomeKind.CLAIM_LOST)
    logger.debug("job %s: succeeded on %s", job.id, record.model)
    return Outcome(OutcomeKind.SUCCEEDED)


def _settle_failure(
    ctx: WorkerContext, job: ClaimedJob, attempt: AttemptRecord, error: UpstreamError
) -> Outcome:
    settings = ctx.settings
    delay_s = retry_delay_for(
        error,
        retries=job.retries,
        max_retries=settings.openrouter_max_retries,
        base_s=settings.helixq_retry_base_delay_s,
        cap_s=settings.helixq_retry_max_delay_s,
        rng=ctx.rng,
    )
    if delay_s is None:
        return _fail(ctx, job, attempt=attempt, code=error.code, message=error.message)
    with ctx.sessions.begin() as session:
        released = jobs_store.release_job(session, job, attempt, delay_s=delay_s)
    if not released:
        return Outcome(OutcomeKind.CLAIM_LOST)
    logger.info(
        "job %s: %s, retry %d in %.1fs", job.id, error.code, job.retries + 1, delay_s
    )
    return Outcome(OutcomeKind.RETRY, retry_in_s=delay_s)


def _fail(
    ctx: WorkerContext,
    job: ClaimedJob,
    *,
    attempt: AttemptRecord | None,
    code: str,
    message: str,
) -> Outcome:
    with ctx.sessions.begin() as session:
        failed = jobs_store.fail_job(
            session, job, attempt=attempt, code=code, message=message
        )
    if not failed:
        return Outcome(OutcomeKind.CLAIM_LOST)
    logger.info("job %s: failed: %s", job.id, code)
    return Outcome(OutcomeKind.FAILED)


def _succeeded_attempt(
    job: ClaimedJob, model: str, started_at: datetime, completion: Completion
) -> _Succeeded:
    return _Succeeded(
        AttemptRecord(
            job_id=job.id,
            model=completion.model or model,
            outcome=AttemptOutcome.SUCCEEDED,
            started_at=started_at,
            latency_ms=completion.latency_ms,
            http_status=completion.http_status,
            generation_id=completion.generation_id,
            provider=completion.provider,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cost_usd=completion.cost_usd,
        ),
        completion.body_json,
    )


def _failed_attempt(
    job: ClaimedJob, model: str, started_at: datetime, error: UpstreamError
) -> AttemptRecord:
    elapsed = datetime.now(UTC) - started_at
    outcome = (
        AttemptOutcome.RETRYABLE if error.is_retryable else AttemptOutcome.PERMANENT
    )
    return AttemptRecord(
        job_id=job.id,
        model=model,
        outcome=outcome,
        started_at=started_at,
        latency_ms=round(elapsed.total_seconds() * 1000),
        http_status=error.http_status,
        error_code=error.code,
        error_message=error.message,
        cost_usd=error.cost_usd,
    )
