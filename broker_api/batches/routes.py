"""HTTP for batches: inline JSON or a streamed JSONL upload in OpenAI's batch format."""

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from broker_api import idempotency
from broker_api.batches import cancel, from_file, service
from broker_api.batches.ingest import Ingest, parse_inline, parse_jsonl
from broker_api.batches.views import BatchList, BatchView
from broker_api.deps import (
    Caller,
    CallerDep,
    CatalogIdsDep,
    EmbeddingModelIdsDep,
    EnqueuerDep,
    IdempotencyKeyHeader,
    ObjectStoreDep,
    SessionDep,
    SettingsDep,
)
from broker_api.ids import parse_id
from broker_api.quotas import SubmitQuotaDep
from broker_api.webhooks.service import check_webhook_url
from shared.errors import BatchNotFound, UnsupportedMediaType
from shared.lanes import Lane
from shared.schemas import BatchCreate, BatchOptions, FileBatchCreate, RouteSpec
from shared.strategies import FallbackStrategy, RouteStrategy
from shared.webhooks.addresses import system_resolver

router = APIRouter(prefix="/v1/batches", tags=["batches"])

JSONL_TYPES = {"application/jsonl", "application/x-ndjson", "application/x-jsonlines"}
_BODY_DOC = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": TypeAdapter(BatchCreate | FileBatchCreate).json_schema()
            },
            "application/jsonl": {
                "schema": {"type": "string", "description": "one request per line"}
            },
        }
    }
}


class _HashedStream:
    """Passes a streamed body through while hashing it (for Idempotency-Key)."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._hash = hashlib.sha256()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self._hash.update(chunk)
            yield chunk

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _jsonl_submission(
    request: Request, options: BatchOptions, key: str | None, ingest: Ingest
) -> service.Submission:
    stream = _HashedStream(request.stream())
    return service.Submission(
        options, parse_jsonl(ingest, stream.__aiter__()), ingest, stream.hexdigest, key
    )


def _validation_error(exc: ValidationError) -> RequestValidationError:
    return RequestValidationError(
        [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
    )


def _file_batch(raw: bytes) -> FileBatchCreate | None:
    """OpenAI's form, told apart by its top-level input_file_id; None otherwise."""
    if b'"input_file_id"' not in raw:
        return None  # an inline body is parsed once, by BatchCreate
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None  # malformed: BatchCreate's parser says where
    if not isinstance(parsed, dict) or "input_file_id" not in parsed:
        return None
    try:
        return FileBatchCreate.model_validate(parsed)
    except ValidationError as exc:
        raise _validation_error(exc) from None


async def _json_submission(
    request: Request,
    key: str | None,
    ingest: Ingest,
    reader: tuple[AsyncSession, Caller],
) -> service.Submission:
    raw = await request.body()
    file_batch = _file_batch(raw)
    if file_batch is not None:
        session, caller = reader
        return await from_file.file_submission(
            session,
            request.app.state.sessions,
            caller,
            file_batch,
            ingest=ingest,
            idempotency_key=key,
            objects=request.app.state.object_store,
        )
    try:
        body = BatchCreate.model_validate_json(raw)
    except ValidationError as exc:
        raise _validation_error(exc) from None
    options = BatchOptions.model_validate(body.model_dump(exclude={"requests"}))
    body_hash = idempotency.request_hash(body.model_dump(mode="json"))
    rows = service.inline_rows(parse_inline(ingest, body.requests))
    return service.Submission(options, rows, ingest, lambda: body_hash, key)


def _query_options(
    completion_window: str | None,
    webhook_url: str | None,
    strategy: RouteStrategy | None,
    fallback: FallbackStrategy | None,
    lane: Lane,
) -> BatchOptions:
    route = (
        RouteSpec(strategy=strategy, fallback=fallback)
        if strategy or fallback
        else None
    )
    return BatchOptions(
        route=route,
        webhook_url=webhook_url,
        completion_window=completion_window or "24h",
        lane=lane,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_BODY_DOC,
    dependencies=[SubmitQuotaDep],
)
async def create_batch(
    request: Request,
    session: SessionDep,
    enqueuer: EnqueuerDep,
    caller: CallerDep,
    settings: SettingsDep,
    catalog_ids: CatalogIdsDep,
    embedding_ids: EmbeddingModelIdsDep,
    idempotency_key: IdempotencyKeyHeader = None,
    completion_window: Annotated[str | None, Query(description="JSONL only")] = None,
    webhook_url: Annotated[str | None, Query(description="JSONL only")] = None,
    strategy: Annotated[RouteStrategy | None, Query(description="JSONL only")] = None,
    fallback: Annotated[
        FallbackStrategy | None, Query(description="JSONL only")
    ] = None,
    lane: Annotated[Lane, Query(description="JSONL only")] = Lane.AUTO,
) -> BatchView:
    """Queue up to 50,000 requests at once, as JSON or an OpenAI-style JSONL upload."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    ingest = Ingest(
        catalog_ids=catalog_ids,
        embedding_ids=embedding_ids,
        allowed_models=caller.allowed_models,
    )
    if content_type in JSONL_TYPES:
        options = _query_options(
            completion_window, webhook_url, strategy, fallback, lane
        )
        submission = _jsonl_submission(request, options, idempotency_key, ingest)
    elif content_type == "application/json":
        submission = await _json_submission(
            request, idempotency_key, ingest, (session, caller)
        )
    else:
        raise UnsupportedMediaType(
            content_type, ["application/json", *sorted(JSONL_TYPES)]
        )
    if submission.options.webhook_url:
        await check_webhook_url(
            submission.options.webhook_url,
            allow_private=settings.helixq_webhook_allow_private,
            resolve=system_resolver,
        )
    return await service.submit_batch(session, enqueuer, caller, submission)


def _parse_id(batch_id: str) -> UUID:
    return parse_id(batch_id, BatchNotFound)


@router.get("")
async def list_batches(
    session: SessionDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: Annotated[
        str | None, Query(description="last_id of the previous page")
    ] = None,
) -> BatchList:
    """The tenant's batches, newest first."""
    cursor = _parse_id(after) if after else None
    return await service.list_batches(session, caller, limit=limit, after=cursor)


@router.get("/{batch_id}")
async def get_batch(batch_id: str, session: SessionDep, caller: CallerDep) -> BatchView:
    """Status, per-status request counts and the time of every state."""
    return await service.read_batch(session, caller, _parse_id(batch_id))


@router.post("/{batch_id}/cancel")
async def cancel_batch(
    batch_id: str, session: SessionDep, caller: CallerDep, objects: ObjectStoreDep
) -> BatchView:
    """Cancel queued items; running items finish and keep their results."""
    return await cancel.cancel_batch(session, caller, _parse_id(batch_id), objects)


@router.get("/{batch_id}/results", response_class=StreamingResponse)
async def batch_results(
    batch_id: str, request: Request, session: SessionDep, caller: CallerDep
) -> StreamingResponse:
    """JSONL, a line per item: custom_id, status, response or error, cost, model."""
    parsed = _parse_id(batch_id)
    await service.read_batch(session, caller, parsed)  # 404 for another tenant's id
    body = service.stream_results(request.app.state.sessions, parsed)
    return StreamingResponse(body, media_type="application/jsonl")
