"""HTTP for jobs: parse, call the service, shape the answer."""

from uuid import UUID

from fastapi import APIRouter, Response, status

from broker_api.deps import CallerDep, EnqueuerDep, SessionDep
from broker_api.jobs import service
from broker_api.jobs.views import JobAccepted, JobView, accepted_view
from shared.errors import JobNotFound
from shared.schemas import JobCreate

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def create_job(
    body: JobCreate,
    response: Response,
    session: SessionDep,
    enqueuer: EnqueuerDep,
    caller: CallerDep,
) -> JobAccepted:
    """Queue one chat-completion job; poll `GET /v1/jobs/{id}` for its result."""
    job = await service.submit_job(session, enqueuer, caller, body)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return accepted_view(job)


@router.get("/{job_id}")
async def get_job(job_id: str, session: SessionDep, caller: CallerDep) -> JobView:
    """The job's status, result or error, usage, cost, latency and attempts."""
    try:
        parsed = UUID(job_id)
    except ValueError:
        # A malformed id answers like a missing one: ids reveal nothing.
        raise JobNotFound(job_id) from None
    return await service.read_job(session, caller, parsed)
