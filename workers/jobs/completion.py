"""Run one completion job: claim → route → admit → call OpenRouter → record →
finish, fail or release.

Everything runs on the worker's event loop, and `Completions` holds the narrow
collaborators each step uses: the claims, the in-flight slots, the route planner,
the limits gate, the OpenRouter client and the job's endings. `start` is what a
`run_completion` message leads to, with the message's jobs (one, or a batch's
group): it returns once their claim is committed, and the rest of each job goes on
on the loop (workers.runtime.inflight and workers.runtime.consumer say why the
message is acked then). Safe to run twice for the same job: the claim decides who
works, and every write after it is guarded by the claim token. No statement is
held across the call. A worker that stops cancels the jobs still running after its
grace period (workers.runtime.inflight); a cancelled job is handed back
(JobEndings.interrupt).
"""

import asyncio
import logging
from collections.abc import Sequence
from functools import partial
from typing import cast
from uuid import UUID

from redis.asyncio.client import Pipeline as AsyncPipeline

from shared.endpoints import is_embeddings
from shared.errors import InvalidRequest
from shared.jobs import AttemptOutcome
from shared.logging_setup import log_context
from shared.routing.performance import AttemptSample
from workers.jobs.attempts import cancelled_attempt, failed_attempt, succeeded_attempt
from workers.jobs.claims import Claims
from workers.jobs.endings import (
    JobEndings,
    Outcome,
    OutcomeKind,
    add_finished_notice,
    routing_json,
)
from workers.jobs.records import AttemptRecord, Call, ClaimedJob
from workers.jobs.streamed_calls import ClientCancelled, StreamedCalls, is_streamed
from workers.limits.client import CompletionClient
from workers.limits.gate import LimitsGate
from workers.openrouter.errors import UpstreamError, UpstreamStreamBroken
from workers.openrouter.request_body import upstream_body
from workers.openrouter.schemas import Completion, JsonObject
from workers.routing.planner import Plan, RoutePlanner, TenantFacts
from workers.runtime.inflight import InflightJobs, Rest, Starter
from workers.runtime.metrics import add_attempt
from workers.runtime.redis_batching import RedisBatcher

logger = logging.getLogger(__name__)

UPSTREAM_DISABLED = "upstream_disabled"
INVALID_ROUTING = "invalid_routing"
FINAL = frozenset({OutcomeKind.SUCCEEDED, OutcomeKind.FAILED, OutcomeKind.CANCELLED})


class Completions:
    """Claims, routes, admits, calls and ends completion jobs on one event loop."""

    def __init__(
        self,
        *,
        claims: Claims,
        inflight: InflightJobs,
        routes: RoutePlanner,
        limits: LimitsGate,
        client: CompletionClient,
        endings: JobEndings,
        redis: RedisBatcher,
        upstream_enabled: bool,
        streamed: StreamedCalls,
    ) -> None:
        self.claims = claims
        self.inflight = inflight
        self._routes = routes
        self.limits = limits
        self._client = client
        self._endings = endings
        self._redis = redis
        self._upstream_enabled = upstream_enabled
        self._streamed = streamed

    async def start(self, job_ids: Sequence[UUID]) -> int:
        """Take an in-flight slot for each job (waiting while they are taken), claim
        the jobs in one statement and return once the claims are committed and each
        claimed job admitted; the rest of each runs on the loop. How many were
        started: a job finished, not yet due, held elsewhere, deferred or refused
        is not."""
        size = self.inflight.limit  # a group never needs more slots than there are
        started = 0
        for first in range(0, len(job_ids), size):
            chunk = job_ids[first : first + size]
            claim = partial(self._claim_and_start, chunk)
            started += await self.inflight.begin(claim, slots=len(chunk))
        return started

    async def run(self, job_id: UUID) -> Outcome:
        """Claim and work the job, waiting for the end (on the loop)."""
        rests: list[Rest] = []
        await self._claim_and_start([job_id], lambda _name, rest: rests.append(rest))
        if not rests:
            return Outcome(OutcomeKind.NOT_CLAIMED)
        return cast(Outcome, await rests[0])  # the claim started _work_then_release

    async def _claim_and_start(self, job_ids: Sequence[UUID], start: Starter) -> None:
        """Claim the jobs, then route and admit each in order, starting the rest of
        each admitted one at once (an error on a later job stops none before it)."""
        jobs = await self.claims.claim(job_ids)
        if len(jobs) < len(job_ids):
            logger.debug(
                "%d of %d jobs not claimed", len(job_ids) - len(jobs), len(job_ids)
            )
        for index, job in enumerate(jobs):
            try:
                plan = await self._admitted_plan(job)
            except asyncio.CancelledError:  # the worker is stopping (runtime.inflight)
                await self._hand_back(jobs[index:])
                raise
            if plan is not None:
                start(f"job {job.id}", self._work_then_release(job, plan))

    async def _admitted_plan(self, job: ClaimedJob) -> Plan | None:
        """The job's plan once it is admitted; None if it failed, was deferred or
        refused meanwhile."""
        plan = await self._plan(job)
        if plan is None or not await self._admitted(job, plan):
            return None
        return plan

    async def _hand_back(self, jobs: Sequence[ClaimedJob]) -> None:
        # Claimed but not started: back to their queues now, with what they held.
        for job in jobs:
            await self._endings.interrupt(job)
            await self.limits.release(job.id)

    async def _plan(self, job: ClaimedJob) -> Plan | None:
        """The job's routing decision; None once a job that cannot be routed failed."""
        if not self._upstream_enabled:
            code, message = UPSTREAM_DISABLED, "OPENROUTER_ENABLED=false"
        else:
            try:
                return await self._routes.plan(
                    job.request, tenant_facts(job), job.route
                )
            except InvalidRequest as error:  # a tenant config the admin API refuses
                code, message = INVALID_ROUTING, error.message
        await self._endings.fail_unstarted(job, code=code, message=message)
        return None

    async def _admitted(self, job: ClaimedJob, plan: Plan) -> bool:
        # Waits for capacity while the message stays unacked (workers.limits.gate).
        first_model = plan.decision.next_model() or plan.decision.candidates[0]
        verdict = await self.limits.admit(
            job.id, job.tenant_slug, job.request, first_model
        )
        if verdict.defer_s is not None and await self._endings.defer(
            job, verdict.defer_s
        ):
            await self._endings.publish_retry(job, verdict.defer_s)
        elif verdict.refusal is not None:
            await self._endings.fail_unstarted(
                job, code=verdict.refusal, message=verdict.refusal_message or ""
            )
        return verdict.ticket is not None

    async def _work_then_release(self, job: ClaimedJob, plan: Plan) -> Outcome:
        try:
            return await self.work(job, plan)
        except asyncio.CancelledError:  # the worker is stopping (runtime.inflight)
            await self._endings.interrupt(job)
            raise
        finally:
            await self.limits.release(job.id)

    async def work(self, job: ClaimedJob, plan: Plan) -> Outcome:
        """Call the job's candidate models in the planned order and record how it
        ended (a final state is announced with the attempt's report); re-publish a
        retry."""
        with log_context(job_id=job.id, tenant=job.tenant_slug):
            outcome = await self._call_and_record(job, plan)
            if is_streamed(job):
                await self._streamed.announce(job, outcome)
            if outcome.retry_in_s is not None:
                await self._endings.publish_retry(job, outcome.retry_in_s)
        return outcome

    async def _call_and_record(self, job: ClaimedJob, plan: Plan) -> Outcome:
        endings = self._endings
        while (model := plan.decision.next_model()) is not None:
            pricing, reserve = await self.limits.pricing(job.request, model)
            call = Call(model, reserve_usd=reserve, pricing=pricing)
            if not await endings.begin(job, call):
                return Outcome(OutcomeKind.CLAIM_LOST)
            try:
                completion = await self._call(
                    job, call, upstream_body(job.request, model)
                )
            except ClientCancelled as left:
                cancelled = cancelled_attempt(job, call, left.partial)
                decision = plan.decision.with_model_used(model)
                outcome = await endings.cancel(job, cancelled, decision)
                await self._report(job, cancelled.attempt, outcome)
                return outcome
            except UpstreamError as error:
                attempt = failed_attempt(job, call, error)
                plan = self._routes.after_failure(
                    plan, model, error.code, error.http_status
                )
                if isinstance(error, UpstreamStreamBroken):
                    return await self._fail_broken(job, attempt, error, plan)
                if plan.decision.next_model() is None:
                    outcome = await endings.settle_failure(
                        job, attempt, error, plan.decision
                    )
                    await self._report(job, attempt, outcome)
                    return outcome
                await self._report(job, attempt)
                if not await endings.record_and_renew(job, attempt):
                    return Outcome(OutcomeKind.CLAIM_LOST)
                continue  # another candidate may answer
            succeeded = succeeded_attempt(job, call, completion)
            outcome = await endings.finish(
                job, succeeded, plan.decision.with_model_used(model)
            )
            await self._report(job, succeeded.attempt, outcome)
            return outcome
        raise ValueError(f"job {job.id}: no candidate model")

    async def _call(self, job: ClaimedJob, call: Call, body: JsonObject) -> Completion:
        if is_streamed(job):
            return await self._streamed.complete(job, body, attempt_id=call.id)
        if is_embeddings(job.request):
            return await self._client.embed(job.id, body)
        return await self._client.complete(job.id, body)

    async def _fail_broken(
        self,
        job: ClaimedJob,
        attempt: AttemptRecord,
        error: UpstreamStreamBroken,
        plan: Plan,
    ) -> Outcome:
        # The client saw part of this answer: no other candidate, no retry.
        outcome = await self._endings.fail(
            job,
            attempt=attempt,
            code=error.code,
            message=error.message,
            routing=routing_json(plan.decision),
            result_json=error.partial.body_json,
        )
        await self._report(job, attempt, outcome)
        return outcome

    async def _report(
        self, job: ClaimedJob, attempt: AttemptRecord, outcome: Outcome | None = None
    ) -> None:
        """Count the attempt in the metrics, fold it into the performance cache and,
        once the job is finished or failed, queue the finished notice: sent with the
        other jobs' Redis commands. Best effort: Postgres holds the truth."""
        if attempt.outcome is AttemptOutcome.CANCELLED:  # no verdict on the model
            await self._redis.send(
                partial(add_finished_notice, job_id=attempt.job_id),
                what=f"job {attempt.job_id}: finished notice",
            )
            return
        sample = AttemptSample(
            succeeded=attempt.outcome is AttemptOutcome.SUCCEEDED,
            latency_ms=attempt.latency_ms,
            completion_tokens=attempt.completion_tokens,
        )
        finished = outcome is not None and outcome.kind in FINAL

        def fill(pipe: AsyncPipeline) -> None:
            add_attempt(pipe, attempt, job.tenant_slug)
            self._routes.add_record(pipe, attempt.model, sample)
            if finished:
                add_finished_notice(pipe, attempt.job_id)

        what = f"job {attempt.job_id}: metrics and notice"
        await self._redis.send(fill, what=what)


def tenant_facts(job: ClaimedJob) -> TenantFacts:
    return TenantFacts(
        slug=job.tenant_slug,
        default_model=job.tenant_default_model,
        route_strategy=job.tenant_route_strategy,
        fallback_strategy=job.tenant_fallback_strategy,
        model_pool=job.tenant_model_pool,
        model_substitution=job.tenant_model_substitution,
    )
