"""Run one completion job: claim → call OpenRouter → record → finish, fail or release.

Everything runs on the worker's event loop. `start_in_flight` is what the Celery task
calls: it returns once the claim is committed, and the rest of the job goes on on the
loop (see workers.inflight and docs/benchmarks.md for why the message is acked then).
Safe to run twice for the same job: the claim decides who works, and every write
after it is guarded by the claim token. No statement is held across the call.
"""

import asyncio
import json
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

import redis.exceptions

from shared.errors import InvalidRequest
from shared.jobs import AttemptOutcome
from shared.logging_setup import log_context
from shared.queues import tenant_queue
from shared.redis_keys import JOBS_FINISHED_CHANNEL
from shared.routing.decision import RoutingDecision
from shared.routing.performance import AttemptSample
from workers import jobs_store
from workers.backoff import retry_delay_s
from workers.context import WorkerContext
from workers.jobs_store import AttemptRecord, ClaimedJob, Ended
from workers.limits import admission
from workers.metrics import record_attempt
from workers.openrouter.errors import UpstreamError
from workers.openrouter.schemas import Completion
from workers.route_planner import TenantFacts
from workers.routing import upstream_body

logger = logging.getLogger(__name__)

UPSTREAM_DISABLED = "upstream_disabled"
INVALID_ROUTING = "invalid_routing"
T = TypeVar("T")


class OutcomeKind(StrEnum):
    NOT_CLAIMED = "not_claimed"  # finished, not yet due, or held elsewhere
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRY = "retry"  # released and re-published to run after `retry_in_s`
    CLAIM_LOST = "claim_lost"  # another worker took the job over meanwhile


class _Succeeded(NamedTuple):
    attempt: AttemptRecord
    result_json: str


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    retry_in_s: float | None = None


def start_in_flight(job_id: UUID, ctx: WorkerContext) -> bool:
    """Take an in-flight slot (blocking while all are taken), claim the job and
    return once the claim is committed; the rest of the job runs on the loop. False
    when there was nothing to claim (finished, not yet due, or held elsewhere)."""
    return ctx.inflight.start(_claim_then_rest(job_id, ctx), name=f"job {job_id}")


async def run(job_id: UUID, ctx: WorkerContext) -> Outcome:
    """Claim and work the job, waiting for the end (on the loop)."""
    rest = await _claim_then_rest(job_id, ctx)
    return Outcome(OutcomeKind.NOT_CLAIMED) if rest is None else await rest


async def _claim_then_rest(
    job_id: UUID, ctx: WorkerContext
) -> Coroutine[object, object, Outcome] | None:
    async with ctx.db.connection() as conn:
        job = await jobs_store.claim_job(
            conn, job_id, lease_s=ctx.settings.helixq_job_lease_s
        )
    if job is None:
        logger.debug("job %s: not claimed", job_id)
        return None
    if not await _admitted(job, ctx):
        return None
    return _work_then_release(job, ctx)


async def _admitted(job: ClaimedJob, ctx: WorkerContext) -> bool:
    # Waits for capacity while the task thread waits too (workers.limits.gate).
    verdict = await admission.admit(ctx, job)
    if verdict.defer_s is not None and await admission.defer(ctx, job, verdict.defer_s):
        await _publish_retry(ctx, job, verdict.defer_s)
    elif verdict.refusal is not None:
        message = "the tenant's monthly budget cannot cover this job"
        failed = await _fail(
            ctx, job, attempt=None, code=verdict.refusal, message=message
        )
        if failed.kind is OutcomeKind.FAILED:
            await _announce_finished(ctx, job.id)
    return verdict.ticket is not None


async def _work_then_release(job: ClaimedJob, ctx: WorkerContext) -> Outcome:
    try:
        return await work(job, ctx)
    finally:
        await ctx.limits.release(job.id)


async def work(job: ClaimedJob, ctx: WorkerContext) -> Outcome:
    """Call the job's candidate models in turn and record how it ended; announce a
    final state, re-publish a retry."""
    with log_context(job_id=job.id, tenant=job.tenant_slug):
        outcome = await _call_and_record(job, ctx)
        if outcome.kind in {OutcomeKind.SUCCEEDED, OutcomeKind.FAILED}:
            await _announce_finished(ctx, job.id)
        elif outcome.retry_in_s is not None:
            await _publish_retry(ctx, job, outcome.retry_in_s)
    return outcome


async def _call_and_record(job: ClaimedJob, ctx: WorkerContext) -> Outcome:
    if not ctx.settings.openrouter_enabled:
        return await _fail(
            ctx,
            job,
            attempt=None,
            code=UPSTREAM_DISABLED,
            message="OPENROUTER_ENABLED=false",
        )
    try:
        plan = await _off_loop(
            ctx.routes.plan, job.request, tenant_facts(job), job.route
        )
    except InvalidRequest as error:  # a tenant config the admin API would refuse
        return await _fail(
            ctx, job, attempt=None, code=INVALID_ROUTING, message=error.message
        )
    while (model := plan.decision.next_model()) is not None:
        started_at = datetime.now(UTC)
        try:
            completion = await ctx.openrouter.complete(
                job.id, upstream_body(job.request, model)
            )
        except UpstreamError as error:
            attempt = _failed_attempt(job, model, started_at, error)
            await _measured(ctx, attempt)
            plan = await _off_loop(
                ctx.routes.after_failure, plan, model, error.code, error.http_status
            )
            if plan.decision.next_model() is None:
                return await _settle_failure(ctx, job, attempt, error, plan.decision)
            if not await _record_and_renew(ctx, job, attempt):
                return Outcome(OutcomeKind.CLAIM_LOST)
            continue  # another candidate may answer
        succeeded = _succeeded_attempt(job, model, started_at, completion)
        await _measured(ctx, succeeded.attempt)
        return await _finish(ctx, job, succeeded, plan.decision.with_model_used(model))
    raise ValueError(f"job {job.id}: no candidate model")


async def _off_loop(function: Callable[..., T], *args: Any) -> T:
    # Routing reads Postgres and Redis with blocking clients.
    return await asyncio.get_running_loop().run_in_executor(
        None, partial(function, *args)
    )


async def _measured(ctx: WorkerContext, attempt: AttemptRecord) -> None:
    """Count the attempt in the metrics and fold it into the performance cache."""
    await record_attempt(ctx.notices, attempt)
    sample = AttemptSample(
        succeeded=attempt.outcome is AttemptOutcome.SUCCEEDED,
        latency_ms=attempt.latency_ms,
        completion_tokens=attempt.completion_tokens,
    )
    try:
        await _off_loop(ctx.routes.record, attempt.model, sample)
    except redis.exceptions.RedisError as error:  # stats only: the job goes on
        logger.warning("job %s: performance not recorded: %r", attempt.job_id, error)


def tenant_facts(job: ClaimedJob) -> TenantFacts:
    return TenantFacts(
        slug=job.tenant_slug,
        default_model=job.tenant_default_model,
        route_strategy=job.tenant_route_strategy,
        fallback_strategy=job.tenant_fallback_strategy,
        model_pool=job.tenant_model_pool,
    )


def _routing_json(decision: RoutingDecision | None) -> str | None:
    return None if decision is None else json.dumps(decision.to_json())


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


async def _record_and_renew(
    ctx: WorkerContext, job: ClaimedJob, attempt: AttemptRecord
) -> bool:
    async with ctx.db.connection() as conn:
        return await jobs_store.record_attempt_and_renew(
            conn, job, attempt, lease_s=ctx.settings.helixq_job_lease_s
        )


async def _finish(
    ctx: WorkerContext,
    job: ClaimedJob,
    attempt: _Succeeded,
    decision: RoutingDecision | None = None,
) -> Outcome:
    record, result_json = attempt
    async with ctx.db.connection() as conn:
        ended = await jobs_store.finish_job(
            conn, job, record, result_json=result_json, routing=_routing_json(decision)
        )
    if ended is None:
        logger.warning("job %s: claim lost before finishing; attempt kept", job.id)
        return Outcome(OutcomeKind.CLAIM_LOST)
    await _send_delivery(ctx, job, ended)
    logger.debug("job %s: succeeded on %s", job.id, record.model)
    return Outcome(OutcomeKind.SUCCEEDED)


async def _settle_failure(
    ctx: WorkerContext,
    job: ClaimedJob,
    attempt: AttemptRecord,
    error: UpstreamError,
    decision: RoutingDecision | None = None,
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
    routing = _routing_json(decision)
    if delay_s is None:
        return await _fail(
            ctx,
            job,
            attempt=attempt,
            code=error.code,
            message=error.message,
            routing=routing,
        )
    async with ctx.db.connection() as conn:
        released = await jobs_store.release_job(
            conn, job, attempt, delay_s=delay_s, routing=routing
        )
    if not released:
        return Outcome(OutcomeKind.CLAIM_LOST)
    logger.info(
        "job %s: %s, retry %d in %.1fs", job.id, error.code, job.retries + 1, delay_s
    )
    return Outcome(OutcomeKind.RETRY, retry_in_s=delay_s)


async def _fail(
    ctx: WorkerContext,
    job: ClaimedJob,
    *,
    attempt: AttemptRecord | None,
    code: str,
    message: str,
    routing: str | None = None,
) -> Outcome:
    async with ctx.db.connection() as conn:
        ended = await jobs_store.fail_job(
            conn, job, attempt=attempt, code=code, message=message, routing=routing
        )
    if ended is None:
        return Outcome(OutcomeKind.CLAIM_LOST)
    await _send_delivery(ctx, job, ended)
    logger.info("job %s: failed: %s", job.id, code)
    return Outcome(OutcomeKind.FAILED)


async def _announce_finished(ctx: WorkerContext, job_id: UUID) -> None:
    # Wakes the API's long-poll waiters; they re-read Postgres anyway, so a lost
    # notice only delays an answer.
    try:
        await ctx.notices.publish(JOBS_FINISHED_CHANNEL, str(job_id))
    except (redis.exceptions.RedisError, OSError) as error:
        logger.warning("job %s: finished notice not sent: %r", job_id, error)


async def _publish_retry(ctx: WorkerContext, job: ClaimedJob, delay_s: float) -> None:
    # The job is already `queued` again in Postgres: if this publish is lost, the
    # sweeper re-sends the job once it has been due for HELIXQ_QUEUED_STALE_S.
    send = partial(
        ctx.sender.send, job.id, tenant_queue(job.tenant_slug), countdown_s=delay_s
    )
    await _send_in_thread(job, send, what="retry")


async def _send_delivery(ctx: WorkerContext, job: ClaimedJob, ended: Ended) -> None:
    # After the commit. If this send is lost, the due-webhook sweep sends it.
    if ended.delivery_id is not None:
        send = partial(ctx.deliveries.send, ended.delivery_id)
        await _send_in_thread(job, send, what="webhook delivery")


async def _send_in_thread(
    job: ClaimedJob, send: Callable[[], None], *, what: str
) -> None:
    # Celery's send blocks: it runs off the loop. Every loss is covered by a sweep.
    try:
        await asyncio.get_running_loop().run_in_executor(None, send)
    except Exception as error:  # any broker error
        logger.warning("job %s: %s not sent: %r", job.id, what, error)


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
