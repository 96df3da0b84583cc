"""What the API answers about files, in OpenAI's shapes."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from shared.db.models import StoredFile
from shared.errors import FileNotFound

FILE_ID_PREFIX = "file-"


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int  # unix seconds, as OpenAI's clients read them
    expires_at: int | None
    filename: str
    purpose: str
    status: Literal["processed"] = "processed"
    status_details: str | None = None


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True


def file_id_text(file_id: UUID) -> str:
    return f"{FILE_ID_PREFIX}{file_id.hex}"


def parse_file_id(raw: str) -> UUID:
    """The UUID behind `file-<hex>`; anything else is a missing file, like any id."""
    try:
        return UUID(raw.removeprefix(FILE_ID_PREFIX))
    except ValueError:
        raise FileNotFound(raw) from None


def unix_s(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def file_object(stored: StoredFile) -> FileObject:
    return FileObject(
        id=file_id_text(stored.id),
        bytes=stored.size_bytes,
        created_at=int(stored.created_at.timestamp()),
        expires_at=unix_s(stored.expires_at),
        filename=stored.filename,
        purpose=stored.purpose,
    )
