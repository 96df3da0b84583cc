"""How a job's run ends: finished, failed, released for a retry, or handed back by
a stopping worker; and what is sent after the commit (the finished notice, the
retry, the webhook delivery), all on the worker's event loop.

Every write is one statement guarded by the claim token (workers.jobs.transitions),
so a worker whose lease was taken over changes nothing. `JobEndings` holds what
those writes and sends need: the loop's connection pool, the retry policy, the
publishers and the loop's Redis batcher.
"""

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import TypeVar
from uuid import UUID

import psycopg
import psycopg_pool
from redis.asyncio.client import Pipeline as AsyncPipeline

from shared.queues import tenant_queue
from shared.redis_keys import JOBS_FINISHED_CHANNEL
from shared.routing.decision import RoutingDecision
from workers.jobs import transitions
from workers.jobs.attempts import Succeeded
from workers.jobs.backoff import retry_delay_s
from workers.jobs.records import AttemptRecord, Call, ClaimedJob, Ended
from workers.jobs.transitions import Connection, ConnectionPool
from workers.openrouter.errors import UpstreamError
from workers.runtime.publishing import TaskPublisher
from workers.runtime.redis_batching import RedisBatcher

logger = logging.getLogger(__name__)

WORKER_STOPPED = "worker_stopped"
WORKER_STOPPED_MESSAGE = (
    "the worker stopped before OpenRouter answered this call; the job runs again "
    "(OpenRouter may still have answered and billed this call)"
)
STORE_RETRY_FIRST_S = 0.5
STORE_RETRY_MAX_S = 10.0
T = TypeVar("T")


class OutcomeKind(StrEnum):
    NOT_CLAIMED = "not_claimed"  # finished, not yet due, or held elsewhere
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the client of a streaming job left mid-call
    RETRY = "retry"  # released and re-published to run after `retry_in_s`
    CLAIM_LOST = "claim_lost"  # another worker took the job over meanwhile


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    retry_in_s: float | None = None


def routing_json(decision: RoutingDecision | None) -> str | None:
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


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When a failed job is retried: OPENROUTER_MAX_RETRIES and the backoff."""

    max_retries: int
    base_s: float
    cap_s: float
    rng: random.Random


class JobEndings:
    """Writes a job's ledger and its end on the worker's loop, and sends what
    follows a commit (finished notice, retry, webhook delivery)."""

    def __init__(
        self,
        *,
        db: ConnectionPool,
        lease_s: float,
        retries: RetryPolicy,
        publisher: TaskPublisher,
        redis: RedisBatcher,
    ) -> None:
        self._db = db
        self._lease_s = lease_s
        self._retries = retries
        self._publisher = publisher
        self._redis = redis

    async def stored(
        self, job: ClaimedJob, write: Callable[[Connection], Awaitable[T]]
    ) -> T:
        """Run a write of the job's ledger, retrying while Postgres is away: after a
        call, the call was made and paid for, and waiting is cheaper than calling
        again; before one, the job resumes as soon as Postgres is back. Gives up once
        the lease has run out (another worker may own the job by then). The writes
        are idempotent: an answer goes onto its attempt's row, the job's end is
        guarded."""
        delay_s = STORE_RETRY_FIRST_S
        deadline = time.monotonic() + self._lease_s
        while True:
            try:
                async with self._db.connection() as conn:
                    return await write(conn)
            except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as error:
                if time.monotonic() + delay_s > deadline:
                    raise
                logger.warning(
                    "job %s: answer not stored yet (%s); retrying in %.1fs",
                    job.id,
                    type(error).__name__,
                    delay_s,
                )
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, STORE_RETRY_MAX_S)

    async def begin(self, job: ClaimedJob, call: Call) -> bool:
        """Put the call in the ledger before making it; False: the claim was lost."""
        return await self.stored(
            job, lambda conn: transitions.begin_attempt(conn, job, call)
        )

    async def note_generation_id(self, attempt_id: UUID, generation_id: str) -> None:
        """Keep a call's generation id on its row while the call goes on. One try:
        the answer writes it again, and only a worker dying before that needs it."""
        try:
            async with self._db.connection() as conn:
                await transitions.note_generation_id(conn, attempt_id, generation_id)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
            logger.warning("attempt %s: generation id not kept: %r", attempt_id, error)

    async def record_and_renew(self, job: ClaimedJob, attempt: AttemptRecord) -> bool:
        """Record a failed call's answer and renew the lease for the next candidate;
        False: the claim was lost."""
        return await self.stored(
            job,
            lambda conn: transitions.record_attempt_and_renew(
                conn, job, attempt, lease_s=self._lease_s
            ),
        )

    async def defer(self, job: ClaimedJob, delay_s: float) -> bool:
        """Re-queue the job for `delay_s` without counting a retry (capacity is
        short); False if the claim was lost meanwhile."""
        async with self._db.connection() as conn:
            return await transitions.defer_job(conn, job, delay_s=delay_s)

    async def finish(
        self,
        job: ClaimedJob,
        attempt: Succeeded,
        decision: RoutingDecision | None = None,
    ) -> Outcome:
        """Record the answer and mark the job succeeded."""
        record, result_json = attempt
        routing = routing_json(decision)
        ended = await self.stored(
            job,
            lambda conn: transitions.finish_job(
                conn, job, record, result_json=result_json, routing=routing
            ),
        )
        if ended is None:
            logger.warning("job %s: claim lost before finishing; attempt kept", job.id)
            return Outcome(OutcomeKind.CLAIM_LOST)
        await self._send_delivery(job, ended)
        logger.debug("job %s: succeeded on %s", job.id, record.model)
        return Outcome(OutcomeKind.SUCCEEDED)

    async def settle_failure(
        self,
        job: ClaimedJob,
        attempt: AttemptRecord,
        error: UpstreamError,
        decision: RoutingDecision | None = None,
    ) -> Outcome:
        """After the last candidate failed: release the job for a retry, or fail it
        for good once the error cannot heal or the retries are spent."""
        policy = self._retries
        delay_s = retry_delay_for(
            error,
            retries=job.retries,
            max_retries=policy.max_retries,
            base_s=policy.base_s,
            cap_s=policy.cap_s,
            rng=policy.rng,
        )
        routing = routing_json(decision)
        if delay_s is None:
            return await self.fail(
                job,
                attempt=attempt,
                code=error.code,
                message=error.message,
                routing=routing,
            )
        released = await self.stored(
            job,
            lambda conn: transitions.release_job(
                conn, job, attempt, delay_s=delay_s, routing=routing
            ),
        )
        if not released:
            return Outcome(OutcomeKind.CLAIM_LOST)
        logger.info(
            "job %s: %s, retry %d in %.1fs",
            job.id,
            error.code,
            job.retries + 1,
            delay_s,
        )
        return Outcome(OutcomeKind.RETRY, retry_in_s=delay_s)

    async def fail(
        self,
        job: ClaimedJob,
        *,
        attempt: AttemptRecord | None,
        code: str,
        message: str,
        routing: str | None = None,
        result_json: str | None = None,
    ) -> Outcome:
        """Mark the job failed for good, with its last attempt if a call was made
        and the partial result of a broken stream."""
        ended = await self.stored(
            job,
            lambda conn: transitions.fail_job(
                conn,
                job,
                attempt=attempt,
                code=code,
                message=message,
                routing=routing,
                result_json=result_json,
            ),
        )
        if ended is None:
            return Outcome(OutcomeKind.CLAIM_LOST)
        await self._send_delivery(job, ended)
        logger.info("job %s: failed: %s", job.id, code)
        return Outcome(OutcomeKind.FAILED)

    async def cancel(
        self,
        job: ClaimedJob,
        attempt: Succeeded,
        decision: RoutingDecision | None = None,
    ) -> Outcome:
        """Record the call cut off when the client left, and mark the job
        cancelled with what it produced."""
        record, result_json = attempt
        routing = routing_json(decision)
        ended = await self.stored(
            job,
            lambda conn: transitions.cancel_job(
                conn, job, record, result_json=result_json, routing=routing
            ),
        )
        if ended is None:
            return Outcome(OutcomeKind.CLAIM_LOST)
        await self._send_delivery(job, ended)
        logger.info("job %s: cancelled: its client left", job.id)
        return Outcome(OutcomeKind.CANCELLED)

    async def fail_unstarted(self, job: ClaimedJob, *, code: str, message: str) -> None:
        """Fail a job before any call (it cannot be routed or paid for) and wake its
        waiters: there is no attempt report to carry the notice."""
        failed = await self.fail(job, attempt=None, code=code, message=message)
        if failed.kind is OutcomeKind.FAILED:
            await self._redis.send(
                partial(add_finished_notice, job_id=job.id),
                what=f"job {job.id}: finished notice",
            )

    async def interrupt(self, job: ClaimedJob) -> None:
        """The worker is stopping before the job ended: mark its call in flight (if
        any) `interrupted`, put the job back in its queue and re-publish it, so that
        another worker, or this one restarted, runs it at once rather than after the
        lease. One try: the sweeper still re-sends the job once its lease runs out."""
        try:
            async with self._db.connection() as conn:
                handed_back = await transitions.interrupt_job(
                    conn, job, code=WORKER_STOPPED, message=WORKER_STOPPED_MESSAGE
                )
        except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
            logger.warning("job %s: not handed back at shutdown: %r", job.id, error)
            return
        if handed_back:
            queue = tenant_queue(job.tenant_slug)
            publish = self._publisher.retry(job.id, queue, countdown_s=None)
            await _published(job, publish, "re-publish at shutdown")
            logger.info("job %s: handed back at shutdown", job.id)

    async def publish_retry(self, job: ClaimedJob, delay_s: float) -> None:
        """Re-publish the job to its tenant's queue, to run in `delay_s`."""
        # The job is already `queued` again in Postgres: if this publish is lost, the
        # sweeper re-sends the job once it has been due for HELIXQ_QUEUED_STALE_S.
        queue = tenant_queue(job.tenant_slug)
        await _published(
            job, self._publisher.retry(job.id, queue, countdown_s=delay_s), "retry"
        )

    async def _send_delivery(self, job: ClaimedJob, ended: Ended) -> None:
        # After the commit. If this send is lost, the due-webhook sweep sends it.
        if ended.delivery_id is not None:
            delivery = self._publisher.delivery(ended.delivery_id)
            await _published(job, delivery, "webhook delivery")


def add_finished_notice(pipe: AsyncPipeline, job_id: UUID) -> None:
    """Queue on `pipe` the notice that wakes the API's long-poll waiters; they
    re-read Postgres anyway, so a lost notice only delays an answer."""
    pipe.publish(JOBS_FINISHED_CHANNEL, str(job_id))


async def _published(job: ClaimedJob, publish: Awaitable[None], what: str) -> None:
    # Every loss is covered by a sweep: a publish never fails the job.
    try:
        await publish
    except Exception as error:  # any broker error
        logger.warning("job %s: %s not sent: %r", job.id, what, error)
