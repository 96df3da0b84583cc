"""A batch made from an uploaded file, as OpenAI's Batch API makes them: the lines
are read from storage as they are validated, never the whole file at once."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker_api import idempotency
from broker_api.batches.ingest import Ingest, parse_jsonl
from broker_api.batches.service import Submission
from broker_api.deps import Caller
from broker_api.files import queries as file_queries
from broker_api.files.content import stream_content
from broker_api.files.service import UPLOAD_PURPOSES
from broker_api.files.views import parse_file_id
from shared.db.models import StoredFile
from shared.endpoints import Endpoint
from shared.errors import FileNotFound, InvalidRequest
from shared.object_store import ObjectStore
from shared.schemas import BatchOptions, FileBatchCreate


async def find_input_file(
    session: AsyncSession, caller: Caller, raw_id: str
) -> StoredFile:
    """The id of the caller's live batch-input file; InvalidRequest naming the id
    otherwise (another tenant's file answers exactly as a missing one)."""
    try:
        file_id = parse_file_id(raw_id)
    except FileNotFound:
        file_id = None
    async with session.begin():
        stored = (
            None
            if file_id is None
            else await file_queries.find_file(
                session, caller.tenant_id, file_id, now=datetime.now(UTC)
            )
        )
    if stored is None:
        raise InvalidRequest(
            f"input_file_id {raw_id!r} names no file of yours: upload it with "
            "POST /v1/files (purpose=batch) first",
            details={"field": "input_file_id"},
        )
    if stored.purpose not in UPLOAD_PURPOSES:
        raise InvalidRequest(
            f"input_file_id {raw_id!r} is a {stored.purpose} file; a batch reads "
            "a file uploaded with purpose=batch",
            details={"field": "input_file_id"},
        )
    return stored


async def file_submission(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    caller: Caller,
    body: FileBatchCreate,
    *,
    ingest: Ingest,
    idempotency_key: str | None,
    objects: ObjectStore | None = None,
) -> Submission:
    stored = await find_input_file(session, caller, body.input_file_id)
    options = BatchOptions.model_validate(
        body.model_dump(exclude={"input_file_id", "endpoint"})
    )
    body_hash = idempotency.request_hash(body.model_dump(mode="json"))
    ingest.endpoint = Endpoint(body.endpoint)
    content = stream_content(sessions, objects, stored.id, stored.storage)
    rows = parse_jsonl(ingest, content)
    return Submission(
        options,
        rows,
        ingest,
        lambda: body_hash,
        idempotency_key,
        input_file_id=stored.id,
        endpoint=body.endpoint,
    )
