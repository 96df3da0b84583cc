"""SQL for files, scoped by tenant; an expired file is as absent as a deleted one.
Query functions never commit."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, delete, insert, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.models import FileChunk, StoredFile


def _live(now: datetime) -> ColumnElement[bool]:
    return or_(StoredFile.expires_at.is_(None), StoredFile.expires_at > now)


async def insert_chunk(
    session: AsyncSession, file_id: UUID, seq: int, data: bytes
) -> None:
    await session.execute(insert(FileChunk).values(file_id=file_id, seq=seq, data=data))


async def find_file(
    session: AsyncSession, tenant_id: UUID, file_id: UUID, *, now: datetime
) -> StoredFile | None:
    return await session.scalar(
        select(StoredFile).where(
            StoredFile.id == file_id, StoredFile.tenant_id == tenant_id, _live(now)
        )
    )


async def list_files(
    session: AsyncSession,
    tenant_id: UUID,
    *,
    purpose: str | None,
    limit: int,
    after: UUID | None,
    newest_first: bool,
    now: datetime,
) -> Sequence[StoredFile]:
    """One page; `after` is the last id of the previous page, in the same order."""
    query = select(StoredFile).where(StoredFile.tenant_id == tenant_id, _live(now))
    if purpose is not None:
        query = query.where(StoredFile.purpose == purpose)
    key = tuple_(StoredFile.created_at, StoredFile.id)
    if after is not None:
        cursor = tuple_(
            select(StoredFile.created_at)
            .where(StoredFile.id == after, StoredFile.tenant_id == tenant_id)
            .scalar_subquery(),
            after,
        )
        query = query.where(key < cursor if newest_first else key > cursor)
    if newest_first:
        query = query.order_by(StoredFile.created_at.desc(), StoredFile.id.desc())
    else:
        query = query.order_by(StoredFile.created_at, StoredFile.id)
    return (await session.scalars(query.limit(limit))).all()


async def delete_file(
    session: AsyncSession, tenant_id: UUID, file_id: UUID, *, now: datetime
) -> str | None:
    """Where the deleted file's bytes were (`files.storage`); None when there was
    no such file. Chunks in Postgres go with it (ON DELETE CASCADE)."""
    storage: str | None = await session.scalar(
        delete(StoredFile)
        .where(StoredFile.id == file_id, StoredFile.tenant_id == tenant_id, _live(now))
        .returning(StoredFile.storage)
    )
    return storage


def content_query(file_id: UUID) -> Any:
    """The file's chunks in order, fetched one at a time from a server-side cursor."""
    return (
        select(FileChunk.data)
        .where(FileChunk.file_id == file_id)
        .order_by(FileChunk.seq)
        .execution_options(yield_per=1)
    )
