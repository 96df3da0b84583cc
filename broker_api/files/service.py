"""File use cases: upload (streamed to storage: broker_api.files.content), read,
list, delete."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.deps import Caller
from broker_api.files import queries
from broker_api.files.content import (
    ChunkRows,
    ContentWriter,
    ObjectParts,
    delete_content,
)
from broker_api.files.upload import UploadForm
from broker_api.files.views import (
    FileDeleted,
    FileList,
    FileObject,
    file_object,
    parse_file_id,
)
from shared.db.models import StoredFile
from shared.errors import FileNotFound, InvalidRequest, InvalidUpload
from shared.object_store import ObjectStore
from shared.stored_files import UPLOAD_PURPOSE

UPLOAD_PURPOSES = (UPLOAD_PURPOSE,)
MIN_EXPIRY_S = 3600
MAX_EXPIRY_S = 30 * 86400
EXPIRES_ANCHOR = "expires_after[anchor]"
EXPIRES_SECONDS = "expires_after[seconds]"


@dataclass(frozen=True)
class UploadRules:
    retention_s: int  # when the upload names no expiry


def _check_purpose(fields: dict[str, str]) -> str:
    purpose = fields.get("purpose")
    if purpose is None:
        raise InvalidUpload(
            "the form needs a purpose field: purpose=batch",
            details={"field": "purpose"},
        )
    if purpose not in UPLOAD_PURPOSES:
        raise InvalidRequest(
            f"purpose {purpose!r} is not supported: files are uploaded for batches "
            "(purpose=batch)",
            details={"field": "purpose", "accepted": list(UPLOAD_PURPOSES)},
        )
    return purpose


def _expiry_s(fields: dict[str, str], default_s: int) -> int:
    anchor, seconds = fields.get(EXPIRES_ANCHOR), fields.get(EXPIRES_SECONDS)
    if anchor is None and seconds is None:
        return default_s
    if anchor != "created_at":
        raise InvalidRequest(
            f"{EXPIRES_ANCHOR} must be created_at", details={"field": EXPIRES_ANCHOR}
        )
    if seconds is None or not seconds.isascii() or not seconds.isdigit():
        raise InvalidRequest(
            f"{EXPIRES_SECONDS} must be a whole number of seconds",
            details={"field": EXPIRES_SECONDS},
        )
    if not MIN_EXPIRY_S <= int(seconds) <= MAX_EXPIRY_S:
        raise InvalidRequest(
            f"{EXPIRES_SECONDS} must be between {MIN_EXPIRY_S} (1 hour) and "
            f"{MAX_EXPIRY_S} (30 days)",
            details={"field": EXPIRES_SECONDS},
        )
    return int(seconds)


async def _write_pieces(form: UploadForm, writer: ContentWriter) -> None:
    """Hands the file's bytes on as they arrive, never holding the whole file."""
    first = True
    async for piece in form.file_pieces():
        if first and "purpose" in form.fields:
            _check_purpose(form.fields)  # fail before storing a file nobody can use
        first = False
        await writer.write(piece)


async def upload_file(
    session: AsyncSession,
    caller: Caller,
    form: UploadForm,
    rules: UploadRules,
    objects: ObjectStore | None = None,
) -> FileObject:
    """All or nothing: the file appears once the whole upload has arrived and its
    fields are valid; anything else leaves nothing behind. In Postgres the row and
    its chunks commit together; to an object store the bytes go first, with no
    transaction open meanwhile, and the row commits once the object is complete."""
    now = datetime.now(UTC)
    stored = StoredFile(
        id=uuid.uuid4(),
        tenant_id=caller.tenant_id,
        purpose=UPLOAD_PURPOSES[0],
        filename="",
        size_bytes=0,
        created_at=now,
    )
    if objects is None:
        async with session.begin():
            session.add(stored)
            await session.flush()  # the chunks refer to the row
            await _receive(form, rules, stored, ChunkRows(session, stored.id))
        return file_object(stored)
    await _receive(form, rules, stored, await ObjectParts.start(objects, stored.id))
    try:
        async with session.begin():
            session.add(stored)
    except BaseException:
        await delete_content(objects, stored.id, stored.storage)
        raise
    return file_object(stored)


async def _receive(
    form: UploadForm, rules: UploadRules, stored: StoredFile, writer: ContentWriter
) -> None:
    """The upload's bytes into `writer` and its fields onto `stored`; the bytes are
    discarded when anything is wrong."""
    stored.storage = writer.storage.value
    try:
        await _write_pieces(form, writer)
        _finish_fields(stored, form, rules, stored.created_at)
        await writer.finish()
    except BaseException:
        await writer.discard()
        raise


def _finish_fields(
    stored: StoredFile, form: UploadForm, rules: UploadRules, now: datetime
) -> None:
    stored.purpose = _check_purpose(form.fields)
    stored.expires_at = now + timedelta(
        seconds=_expiry_s(form.fields, rules.retention_s)
    )
    if form.size_bytes == 0:
        raise InvalidRequest("the file is empty", details={"field": "file"})
    stored.filename = _filename(form.filename)
    stored.size_bytes = form.size_bytes


def _filename(name: str | None) -> str:
    if not name or len(name) > 255:
        raise InvalidUpload(
            "the file needs a filename of 1 to 255 characters",
            details={"field": "file"},
        )
    return name


async def read_file(session: AsyncSession, caller: Caller, file_id: str) -> StoredFile:
    """Raises FileNotFound, naming the id as given, for any file the caller cannot
    see: another tenant's, expired, deleted or malformed ids all answer alike."""
    async with session.begin():
        stored = await queries.find_file(
            session, caller.tenant_id, parse_file_id(file_id), now=datetime.now(UTC)
        )
    if stored is None:
        raise FileNotFound(file_id)
    return stored


async def list_files(
    session: AsyncSession,
    caller: Caller,
    *,
    purpose: str | None,
    limit: int,
    after: str | None,
    newest_first: bool,
) -> FileList:
    async with session.begin():
        files = await queries.list_files(
            session,
            caller.tenant_id,
            purpose=purpose,
            limit=limit + 1,
            after=parse_file_id(after) if after else None,
            newest_first=newest_first,
            now=datetime.now(UTC),
        )
    page = [file_object(stored) for stored in files[:limit]]
    return FileList(
        data=page,
        first_id=page[0].id if page else None,
        last_id=page[-1].id if page else None,
        has_more=len(files) > limit,
    )


async def delete_file(
    session: AsyncSession,
    caller: Caller,
    file_id: str,
    objects: ObjectStore | None = None,
) -> FileDeleted:
    """The file and its content; FileNotFound as for `read_file`. The row goes
    first: once it is gone nobody can read the file, whatever its bytes become."""
    parsed = parse_file_id(file_id)
    async with session.begin():
        storage = await queries.delete_file(
            session, caller.tenant_id, parsed, now=datetime.now(UTC)
        )
    if storage is None:
        raise FileNotFound(file_id)
    await delete_content(objects, parsed, storage)
    return FileDeleted(id=file_id)
