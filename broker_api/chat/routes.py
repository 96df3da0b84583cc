"""`POST /v1/chat/completions`: OpenAI-compatible, answered through the job queue.

The request becomes a job at interactive priority; the answer waits for it, so the
official `openai` SDK works with `base_url` set to helixq and a tenant key.
"""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from broker_api.chat.streaming import sse_events
from broker_api.deps import (
    CallerDep,
    CatalogIdsDep,
    EnqueuerDep,
    SessionDep,
    SettingsDep,
    WaitersDep,
)
from broker_api.errors import DEFAULT_JOB_ERROR_STATUS, JOB_ERROR_STATUS, error_body
from broker_api.jobs import service
from broker_api.jobs.views import JobView
from broker_api.quotas import SubmitQuotaDep
from shared.schemas import ChatCompletionCreate
from shared.task_messages import Priority

router = APIRouter(tags=["openai-compatible"])


def _failure(view: JobView) -> tuple[int, str, str]:
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
    session: SessionDep,
    enqueuer: EnqueuerDep,
    waiters: WaitersDep,
    caller: CallerDep,
    settings: SettingsDep,
    catalog_ids: CatalogIdsDep,
) -> JSONResponse | StreamingResponse:
    """Run one completion and answer in OpenAI/OpenRouter format (usage with cost)."""
    accepted = await service.submit_job(
        session,
        enqueuer,
        caller,
        body.as_job(),
        priority=Priority.INTERACTIVE,
        catalog_ids=catalog_ids,
    )
    view = await service.wait_for_job(
        session, waiters, caller, accepted.id, wait_s=settings.helixq_sync_timeout_s
    )
    headers = {"X-Helixq-Job-Id": str(accepted.id)}
    if view.status == "succeeded" and view.result is not None:
        result: dict[str, Any] = view.result
        if body.stream:
            return StreamingResponse(
                sse_events(result), media_type="text/event-stream", headers=headers
            )
        return JSONResponse(result, headers=headers)
    # Nothing has been streamed yet, so even a streaming caller gets a plain HTTP
    # error, which is what OpenAI's SDKs raise on.
    status, code, message = _failure(view)
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)
