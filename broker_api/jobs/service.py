"""Job use cases: submit and read. Each opens its own transaction."""

import logging
import time
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from broker_api import idempotency
from broker_api.deps import Caller
from broker_api.enqueue import Enqueuer
from broker_api.jobs import queries
from broker_api.jobs.views import JobAccepted, JobView, accepted_view, job_view
from broker_api.waiters import JobWaiters
from shared.db.models import Job
from shared.errors import JobNotFound, JobNotStreamed
from shared.jobs import JobStatus
from shared.routing.validation import validate_route
from shared.schemas import JobCreate
from shared.task_messages import Priority

logger = logging.getLogger(__name__)


async def submit_job(
    session: AsyncSession,
    enqueuer: Enqueuer,
    caller: Caller,
    request: JobCreate,
    *,
    idempotency_key: str | None = None,
    priority: Priority = Priority.JOB,
    catalog_ids: frozenset[str] = frozenset(),
) -> JobAccepted:
    """Commit the job row, then publish its id. The row is the job: if publishing
    fails, the sweeper sends it later, so the client still gets its id.

    Unknown models or strategies are refused (422, with close matches) first."""
    validate_route(request.model_dump(exclude_none=True), catalog_ids)
    async with session.begin():
        if idempotency_key is not None:
            body_hash = idempotency.request_hash(request.model_dump(mode="json"))
            stored = await idempotency.reserve(
                session, caller.tenant_id, idempotency_key, body_hash
            )
            if stored is not None:
                return JobAccepted.model_validate(stored.body)
        job = _new_job(caller, request, priority)
        session.add(job)
        await session.flush()
        accepted = accepted_view(job)
        if idempotency_key is not None:
            answer = idempotency.StoredAnswer(202, accepted.model_dump(mode="json"))
            await idempotency.remember(
                session, caller.tenant_id, idempotency_key, answer
            )
    await publish(enqueuer, job.id, caller.slug, priority)
    return accepted


def _new_job(caller: Caller, request: JobCreate, priority: Priority) -> Job:
    return Job(
        tenant_id=caller.tenant_id,
        status=JobStatus.QUEUED.value,
        request=request.completion_body(),
        route=request.route.model_dump(exclude_none=True) if request.route else None,
        custom_id=request.custom_id,
        metadata_=request.metadata,
        webhook_url=request.webhook_url,
        priority=int(priority),
    )


async def publish(
    enqueuer: Enqueuer, job_id: UUID, slug: str, priority: Priority = Priority.JOB
) -> None:
    """Send a committed job to its tenant's queue; a failure is left to the sweeper."""
    try:
        await enqueuer.enqueue_completion(job_id, slug, priority)
    except Exception:
        logger.warning(
            "job %s committed but not published; the sweeper will send it",
            job_id,
            exc_info=True,
        )


async def read_job(session: AsyncSession, caller: Caller, job_id: UUID) -> JobView:
    async with session.begin():
        job = await queries.find_job(session, caller.tenant_id, job_id)
        if job is None:
            raise JobNotFound(job_id)
        attempts = await queries.list_attempts(session, job_id)
        return job_view(job, list(attempts))


async def read_followable_job(
    session: AsyncSession, caller: Caller, job_id: UUID
) -> JobView:
    """The job, if its tokens can be followed: submitted with `stream: true`, or
    finished (its answer replays); raises JobNotFound (another tenant's job too)
    or JobNotStreamed."""
    async with session.begin():
        job = await queries.find_job(session, caller.tenant_id, job_id)
        if job is None:
            raise JobNotFound(job_id)
        is_terminal = JobStatus(job.status).is_terminal
        if job.request.get("stream") is not True and not is_terminal:
            raise JobNotStreamed(job_id)
        attempts = await queries.list_attempts(session, job_id)
        return job_view(job, list(attempts))


async def wait_for_job(
    session: AsyncSession,
    waiters: JobWaiters,
    caller: Caller,
    job_id: UUID,
    *,
    wait_s: float,
) -> JobView:
    """The job as soon as it is terminal, or as it stands after `wait_s` seconds."""
    deadline = time.monotonic() + wait_s
    while True:
        view = await read_job(session, caller, job_id)
        remaining = deadline - time.monotonic()
        if JobStatus(view.status).is_terminal or remaining <= 0:
            return view
        await waiters.wait(job_id, remaining)
