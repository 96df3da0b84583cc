"""Run one completion job: claim → call OpenRouter → record → finish, fail or release.

Everything runs on the worker's event loop. `start` is what a `run_completion`
message leads to, with the message's jobs (one, or a batch's group): it returns once
their claim is committed, and the rest of each job goes on on the loop (see
workers.runtime.inflight, workers.runtime.consumer and docs/benchmarks.md for why the
message is acked then).
Safe to run twice for the same job: the claim decides who works, and every write
after it is guarded by the claim token. No statement is held across the call.
"""

import asyncio
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar, cast
from uuid import UUID

from redis.asyncio.client import Pipeline as AsyncPipeline

from shared.errors import InvalidRequest
from shared.jobs import AttemptOutcome
from shared.logging_setup import log_context
from shared.routing.performance import AttemptSample
from workers.jobs import endings
from workers.jobs.endings import Outcome, OutcomeKind
from workers.jobs.records import AttemptRecord, Call, ClaimedJob
from workers.limits import admission
from workers.openrouter.errors import UpstreamError
from workers.openrouter.request_body import upstream_body
from workers.routing.planner import Plan, TenantFacts
from workers.runtime.context import WorkerContext
from workers.runtime.inflight import Rest, Starter
from workers.runtime.metrics import add_attempt

logger = logging.getLogger(__name__)

UPSTREAM_DISABLED = "upstream_disabled"
INVALID_ROUTING = "invalid_routing"
T = TypeVar("T")
FINAL = frozenset({OutcomeKind.SUCCEEDED, OutcomeKind.FAILED})


async def start(job_ids: Sequence[UUID], ctx: WorkerContext) -> int:
    """Take an in-flight slot for each job (waiting while they are taken), claim
    the jobs in one statement and return once the claims are committed and each
    claimed job admitted; the rest of each runs on the loop. How many were started:
    a job finished, not yet due, held elsewhere, deferred or refused is not."""
    size = ctx.inflight.limit  # a group never needs more slots than there are
    started = 0
    for first in range(0, len(job_ids), size):
        chunk = job_ids[first : first + size]
        claim = partial(_claim_and_start, chunk, ctx)
        started += await ctx.inflight.begin(claim, slots=len(chunk))
    return started


async def run(job_id: UUID, ctx: WorkerContext) -> Outcome:
    """Claim and work the job, waiting for the end (on the loop)."""
    rests: list[Rest] = []
    await _claim_and_start([job_id], ctx, lambda _name, rest: rests.append(rest))
    if not rests:
        return Outcome(OutcomeKind.NOT_CLAIMED)
    return cast(Outcome, await rests[0])  # _claim_and_start starts _work_then_release


async def _claim_and_start(
    job_ids: Sequence[UUID], ctx: WorkerContext, start: Starter
) -> None:
    """Claim the jobs, then route and admit each in order, starting the rest of
    each admitted one at once (an error on a later job stops none before it)."""
    jobs = await ctx.claims.claim(job_ids)
    if len(jobs) < len(job_ids):
        logger.debug(
            "%d of %d jobs not claimed", len(job_ids) - len(jobs), len(job_ids)
        )
    for job in jobs:
        plan = await _plan(job, ctx)
        if plan is not None and await _admitted(job, ctx, plan):
            start(f"job {job.id}", _work_then_release(job, ctx, plan))


async def _plan(job: ClaimedJob, ctx: WorkerContext) -> Plan | None:
    """The job's routing decision; None once a job that cannot be routed failed."""
    if not ctx.settings.openrouter_enabled:
        code, message = UPSTREAM_DISABLED, "OPENROUTER_ENABLED=false"
    else:
        facts = tenant_facts(job)
        try:
            planned = ctx.routes.plan_without_io(job.request, facts, job.route)
            if planned is not None:
                return planned
            return await _off_loop(ctx.routes.plan, job.request, facts, job.route)
        except InvalidRequest as error:  # a tenant config the admin API would refuse
            code, message = INVALID_ROUTING, error.message
    failed = await endings.fail(ctx, job, attempt=None, code=code, message=message)
    if failed.kind is OutcomeKind.FAILED:
        await endings.announce_finished(ctx, job.id)
    return None


async def _admitted(job: ClaimedJob, ctx: WorkerContext, plan: Plan) -> bool:
    # Waits for capacity while the message stays unacked (workers.limits.gate).
    first_model = plan.decision.next_model() or plan.decision.candidates[0]
    verdict = await admission.admit(ctx, job, first_model)
    if verdict.defer_s is not None and await admission.defer(ctx, job, verdict.defer_s):
        await endings.publish_retry(ctx, job, verdict.defer_s)
    elif verdict.refusal is not None:
        message = "the tenant's monthly budget cannot cover this job"
        failed = await endings.fail(
            ctx, job, attempt=None, code=verdict.refusal, message=message
        )
        if failed.kind is OutcomeKind.FAILED:
            await endings.announce_finished(ctx, job.id)
    return verdict.ticket is not None


async def _work_then_release(
    job: ClaimedJob, ctx: WorkerContext, plan: Plan
) -> Outcome:
    try:
        return await work(job, ctx, plan)
    finally:
        await ctx.limits.release(job.id)


async def work(job: ClaimedJob, ctx: WorkerContext, plan: Plan) -> Outcome:
    """Call the job's candidate models in the planned order and record how it
    ended (a final state is announced with the attempt's report); re-publish a
    retry."""
    with log_context(job_id=job.id, tenant=job.tenant_slug):
        outcome = await _call_and_record(job, ctx, plan)
        if outcome.retry_in_s is not None:
            await endings.publish_retry(ctx, job, outcome.retry_in_s)
    return outcome


async def _call_and_record(job: ClaimedJob, ctx: WorkerContext, plan: Plan) -> Outcome:
    while (model := plan.decision.next_model()) is not None:
        call = Call(model)
        if not await endings.begin(ctx, job, call):
            return Outcome(OutcomeKind.CLAIM_LOST)
        try:
            completion = await ctx.openrouter.complete(
                job.id, upstream_body(job.request, model)
            )
        except UpstreamError as error:
            attempt = endings.failed_attempt(job, call, error)
            plan = await _off_loop(
                ctx.routes.after_failure, plan, model, error.code, error.http_status
            )
            if plan.decision.next_model() is None:
                outcome = await endings.settle_failure(
                    ctx, job, attempt, error, plan.decision
                )
                await _report(ctx, attempt, outcome)
                return outcome
            await _report(ctx, attempt)
            if not await endings.record_and_renew(ctx, job, attempt):
                return Outcome(OutcomeKind.CLAIM_LOST)
            continue  # another candidate may answer
        succeeded = endings.succeeded_attempt(job, call, completion)
        outcome = await endings.finish(
            ctx, job, succeeded, plan.decision.with_model_used(model)
        )
        await _report(ctx, succeeded.attempt, outcome)
        return outcome
    raise ValueError(f"job {job.id}: no candidate model")


async def _off_loop(function: Callable[..., T], *args: Any) -> T:
    # Routing reads Postgres and Redis with blocking clients.
    return await asyncio.get_running_loop().run_in_executor(
        None, partial(function, *args)
    )


async def _report(
    ctx: WorkerContext, attempt: AttemptRecord, outcome: Outcome | None = None
) -> None:
    """Count the attempt in the metrics, fold it into the performance cache and,
    once the job is finished or failed, queue the finished notice: sent with the
    other jobs' Redis commands. Best effort: Postgres holds the truth."""
    sample = AttemptSample(
        succeeded=attempt.outcome is AttemptOutcome.SUCCEEDED,
        latency_ms=attempt.latency_ms,
        completion_tokens=attempt.completion_tokens,
    )
    finished = outcome is not None and outcome.kind in FINAL

    def fill(pipe: AsyncPipeline) -> None:
        add_attempt(pipe, attempt)
        ctx.routes.add_record(pipe, attempt.model, sample)
        if finished:
            endings.add_finished_notice(pipe, attempt.job_id)

    await ctx.redis_batch.send(fill, what=f"job {attempt.job_id}: metrics and notice")


def tenant_facts(job: ClaimedJob) -> TenantFacts:
    return TenantFacts(
        slug=job.tenant_slug,
        default_model=job.tenant_default_model,
        route_strategy=job.tenant_route_strategy,
        fallback_strategy=job.tenant_fallback_strategy,
        model_pool=job.tenant_model_pool,
    )
