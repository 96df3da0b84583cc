"""Job use cases: submit and read. Each opens its own transaction."""

import logging
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.deps import Caller
from broker_api.enqueue import Enqueuer
from broker_api.jobs import queries
from broker_api.jobs.views import JobView, job_view
from shared.db.models import Job
from shared.errors import JobNotFound
from shared.jobs import JobStatus
from shared.schemas import JobCreate

logger = logging.getLogger(__name__)


async def submit_job(
    session: AsyncSession, enqueuer: Enqueuer, caller: Caller, request: JobCreate
) -> Job:
    """Commit the job row, then publish its id. The row is the job: if publishing
    fails, the sweeper sends it later, so the client still gets its id."""
    async with session.begin():
        job = Job(
            tenant_id=caller.tenant_id,
            status=JobStatus.QUEUED.value,
            request=request.completion_body(),
            route=request.route.model_dump(exclude_none=True)
            if request.route
            else None,
            custom_id=request.custom_id,
            metadata_=request.metadata,
        )
        session.add(job)
    try:
        await enqueuer.enqueue_completion(job.id, caller.slug)
    except Exception:
        logger.warning(
            "job %s committed but not published; the sweeper will send it",
            job.id,
            exc_info=True,
        )
    return job


async def read_job(session: AsyncSession, caller: Caller, job_id: UUID) -> JobView:
    async with session.begin():
        job = await queries.find_job(session, caller.tenant_id, job_id)
        if job is None:
            raise JobNotFound(job_id)
        attempts = await queries.list_attempts(session, job_id)
        return job_view(job, list(attempts))
