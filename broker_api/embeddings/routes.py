"""`POST /v1/embeddings`: OpenAI-compatible, answered through the job queue.

The request becomes a job at interactive priority, as a chat completion does, so
routing, limits, budgets, retries and the ledger apply to it; the answer waits
for the job and is OpenRouter's body (OpenAI's shape, `usage.cost` added).
"""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from broker_api.chat.routes import answer_of
from broker_api.deps import (
    CallerDep,
    EmbeddingModelIdsDep,
    EnqueuerDep,
    IdempotencyKeyHeader,
    JobWriterDep,
    SettingsDep,
    WaitersDep,
)
from broker_api.jobs import service
from broker_api.quotas import SubmitQuotaDep
from shared.schemas import EmbeddingsCreate

router = APIRouter(tags=["openai-compatible"])


@router.post("/v1/embeddings", response_model=None, dependencies=[SubmitQuotaDep])
async def create_embeddings(
    body: EmbeddingsCreate,
    writer: JobWriterDep,
    enqueuer: EnqueuerDep,
    waiters: WaitersDep,
    caller: CallerDep,
    settings: SettingsDep,
    embedding_ids: EmbeddingModelIdsDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Embed `input` and answer in OpenAI/OpenRouter format (a vector per input, in
    order; usage with cost). Without `model`, routing chooses among embedding
    models. With an `Idempotency-Key` header, a retry of the same request (within
    24 h) answers the job the first one created."""
    view = await service.submit_and_wait(
        writer,
        enqueuer,
        waiters,
        caller,
        body.as_job(),
        wait_s=settings.helixq_sync_timeout_s,
        catalog_ids=embedding_ids,
        idempotency_key=idempotency_key,
    )
    return answer_of(view)
