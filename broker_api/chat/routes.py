"""`POST /v1/chat/completions`: OpenAI-compatible, answered through the job queue.

The request becomes a job at interactive priority; the answer waits for it, so the
official `openai` SDK works with `base_url` set to helixq and a tenant key.
"""

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from broker_api.chat.relay import ChatRelay
from broker_api.deps import (
    CallerDep,
    CatalogIdsDep,
    EnqueuerDep,
    IdempotencyKeyHeader,
    JobWriterDep,
    SettingsDep,
    WaitersDep,
)
from broker_api.errors import DEFAULT_JOB_ERROR_STATUS, JOB_ERROR_STATUS, error_body
from broker_api.jobs import service
from broker_api.jobs.live import JobFollower
from broker_api.jobs.views import JobView
from broker_api.quotas import SubmitQuotaDep
from broker_api.sse import ended_without_chunks
from shared.job_streams import EntryKind
from shared.schemas import ChatCompletionCreate
from shared.task_messages import Priority

router = APIRouter(tags=["openai-compatible"])


def failure_of(view: JobView) -> tuple[int, str, str]:
    """The status, code and message of a job that did not succeed in time."""
    if view.error is None:  # still running when the wait ran out
        return (
            504,
            "timeout",
            (f"job {view.id} did not finish in time; poll GET /v1/jobs/{view.id}"),
        )
    status = JOB_ERROR_STATUS.get(view.error.code, DEFAULT_JOB_ERROR_STATUS)
    return status, view.error.code, view.error.message


@router.post("/v1/chat/completions", response_model=None, dependencies=[SubmitQuotaDep])
async def chat_completions(
    body: ChatCompletionCreate,
    writer: JobWriterDep,
    enqueuer: EnqueuerDep,
    waiters: WaitersDep,
    caller: CallerDep,
    settings: SettingsDep,
    catalog_ids: CatalogIdsDep,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse | StreamingResponse:
    """Run one completion and answer in OpenAI/OpenRouter format (usage with cost).

    With `stream: true` the tokens are relayed as OpenRouter streams them. With an
    `Idempotency-Key` header, a retry of the same request (within 24 h) answers
    the job the first one created, instead of paying for a second call."""
    if body.stream:
        accepted = await service.submit_job(
            writer,
            enqueuer,
            caller,
            body.as_job(),
            priority=Priority.INTERACTIVE,
            catalog_ids=catalog_ids,
            idempotency_key=idempotency_key,
        )
        follower = JobFollower(
            redis=request.app.state.redis,
            pool=writer.pool,
            caller=caller,
            job_id=accepted.id,
            keepalive_s=settings.helixq_stream_keepalive_s,
        )
        return await _relayed(follower, {"X-Helixq-Job-Id": str(accepted.id)})
    view = await service.submit_and_wait(
        writer,
        enqueuer,
        waiters,
        caller,
        body.as_job(),
        wait_s=settings.helixq_sync_timeout_s,
        catalog_ids=catalog_ids,
        idempotency_key=idempotency_key,
    )
    return answer_of(view)


def answer_of(view: JobView) -> JSONResponse:
    """A waited-for job's answer: its result, or its failure in the house shape;
    the job's id in a header either way."""
    headers = {"X-Helixq-Job-Id": str(view.id)}
    if view.status == "succeeded" and view.result is not None:
        result: dict[str, Any] = view.result
        return JSONResponse(result, headers=headers)
    status, code, message = failure_of(view)
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


async def _relayed(
    follower: JobFollower, headers: dict[str, str]
) -> JSONResponse | StreamingResponse:
    """The job's stream, or a plain HTTP error when it failed before the answer
    started (no chunk yet, and no keep-alive sent)."""
    relay = ChatRelay(follower)
    first = await relay.first_outcome()
    if first.kind is EntryKind.END:
        view = first.view or await follower.terminal_view()
        if view is not None and view.status != "succeeded":
            status, code, message = failure_of(view)
            return JSONResponse(
                error_body(code, message), status_code=status, headers=headers
            )
        if view is not None:
            return _sse(_replayed(ended_without_chunks(view)), headers)
    return _sse(relay.body(), headers)


def _sse(body: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _replayed(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
