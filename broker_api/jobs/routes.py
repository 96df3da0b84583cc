"""HTTP for jobs: parse, call the service, shape the answer."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from broker_api.deps import (
    CallerDep,
    CatalogIdsDep,
    EnqueuerDep,
    IdempotencyKeyHeader,
    JobWriterDep,
    PoolDep,
    SettingsDep,
    WaitersDep,
)
from broker_api.ids import parse_id
from broker_api.jobs import service
from broker_api.jobs.follow import job_events
from broker_api.jobs.live import JobFollower
from broker_api.jobs.views import JobAccepted, JobView
from broker_api.quotas import SubmitQuotaDep
from broker_api.webhooks.service import check_webhook_url
from shared.errors import JobNotFound
from shared.schemas import JobCreate
from shared.webhooks.addresses import system_resolver

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, dependencies=[SubmitQuotaDep])
async def create_job(
    body: JobCreate,
    response: Response,
    writer: JobWriterDep,
    enqueuer: EnqueuerDep,
    caller: CallerDep,
    settings: SettingsDep,
    catalog_ids: CatalogIdsDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JobAccepted:
    """Queue one chat-completion job; poll `GET /v1/jobs/{id}` for its result.

    With an `Idempotency-Key` header, repeating the same request (within 24 h)
    answers the same job instead of creating another.
    """
    if body.webhook_url:
        await check_webhook_url(
            body.webhook_url,
            allow_private=settings.helixq_webhook_allow_private,
            resolve=system_resolver,
        )
    accepted = await service.submit_job(
        writer,
        enqueuer,
        caller,
        body,
        idempotency_key=idempotency_key,
        catalog_ids=catalog_ids,
    )
    response.headers["Location"] = f"/v1/jobs/{accepted.id}"
    return accepted


@router.get("/{job_id}")
async def get_job(
    job_id: str,
    pool: PoolDep,
    caller: CallerDep,
    waiters: WaitersDep,
    settings: SettingsDep,
    wait: Annotated[
        float, Query(ge=0, description="Seconds to wait for a terminal state.")
    ] = 0,
) -> JobView:
    """The job's status, result or error, usage, cost, latency and attempts.

    With `?wait=N` the answer comes as soon as the job is terminal, or after N
    seconds (capped by HELIXQ_LONG_POLL_MAX_S) with its current state.
    """
    parsed = parse_id(job_id, JobNotFound)
    wait_s = min(wait, settings.helixq_long_poll_max_s)
    return await service.wait_for_job(pool, waiters, caller, parsed, wait_s=wait_s)


@router.get(
    "/{job_id}/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_job(
    job_id: str,
    request: Request,
    pool: PoolDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> StreamingResponse:
    """Follow a job submitted with `"stream": true` as server-sent events: its
    status changes, then its tokens as they are generated; a finished job replays
    its answer at once. A job submitted without streaming is a 409
    `job_not_streamed` until it has finished."""
    parsed = parse_id(job_id, JobNotFound)
    view = await service.read_followable_job(pool, caller, parsed)
    follower = JobFollower(
        redis=request.app.state.redis,
        pool=pool,
        caller=caller,
        job_id=parsed,
        keepalive_s=settings.helixq_stream_keepalive_s,
    )
    return StreamingResponse(
        job_events(follower, view),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
