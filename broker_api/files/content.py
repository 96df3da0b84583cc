"""Where a file's bytes go and come from: `file_chunks` rows in Postgres, or an
object in the object store (HELIXQ_FILE_STORAGE=s3, shared.object_store). The
`files` row is in Postgres either way and names the place (`files.storage`).

The object store's client blocks, so each of its calls runs on a thread: an upload
hands each piece to its multipart upload there, a read fetches each piece there.
"""

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Protocol
from uuid import UUID

from anyio import CancelScope, to_thread
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker_api.files import queries
from shared.errors import Unavailable
from shared.object_store import RETRY_AFTER_S, MultipartUpload, ObjectStore
from shared.settings import FileStorage
from shared.stored_files import CHUNK_BYTES

logger = logging.getLogger(__name__)


class ContentWriter(Protocol):
    """Takes a file's bytes as they arrive; `finish` makes them whole (before the
    file's row commits), `discard` drops them."""

    storage: FileStorage

    async def write(self, piece: bytes) -> None: ...

    async def finish(self) -> None: ...

    async def discard(self) -> None: ...


class ChunkRows:
    """Rows of CHUNK_BYTES in the upload's transaction: a rollback discards them."""

    storage = FileStorage.POSTGRES

    def __init__(self, session: AsyncSession, file_id: UUID) -> None:
        self._session = session
        self._file_id = file_id
        self._buffer = bytearray()
        self._seq = 0

    async def write(self, piece: bytes) -> None:
        self._buffer.extend(piece)
        while len(self._buffer) >= CHUNK_BYTES:
            await self._store(bytes(self._buffer[:CHUNK_BYTES]))
            del self._buffer[:CHUNK_BYTES]

    async def finish(self) -> None:
        if self._buffer:
            await self._store(bytes(self._buffer))
            self._buffer.clear()

    async def discard(self) -> None:
        self._buffer.clear()  # the rows go with the transaction's rollback

    async def _store(self, data: bytes) -> None:
        await queries.insert_chunk(self._session, self._file_id, self._seq, data)
        self._seq += 1


class ObjectParts:
    """A multipart upload to the object store, a part sent as each fills."""

    storage = FileStorage.S3

    def __init__(self, upload: MultipartUpload) -> None:
        self._upload = upload

    @classmethod
    async def start(cls, objects: ObjectStore, file_id: UUID) -> "ObjectParts":
        return cls(await to_thread.run_sync(objects.start_upload, file_id))

    async def write(self, piece: bytes) -> None:
        await to_thread.run_sync(self._upload.write, piece)

    async def finish(self) -> None:
        await to_thread.run_sync(self._upload.complete)

    async def discard(self) -> None:
        # Shielded: a client that left still frees the parts. Best effort: the
        # upload's own error is what its client must see.
        with CancelScope(shield=True):
            try:
                await to_thread.run_sync(self._upload.abort)
            except Unavailable:
                logger.warning("an upload's parts are left in the store")


async def stream_content(
    sessions: async_sessionmaker[AsyncSession],
    objects: ObjectStore | None,
    file_id: UUID,
    storage: str,
) -> AsyncIterator[bytes]:
    """The file's bytes, a stored piece at a time (never the whole file in memory)."""
    if storage == FileStorage.S3.value:
        async for piece in _in_thread(_store_of(objects).read(file_id)):
            yield piece
        return
    async with sessions() as session, session.begin():
        result = await session.stream(queries.content_query(file_id))
        async for row in result:
            yield bytes(row[0])


async def delete_content(
    objects: ObjectStore | None, file_id: UUID, storage: str
) -> None:
    """Delete an object-store file's object; a Postgres file's rows went with it.
    Called once the row is gone, so the file is deleted whatever happens here: an
    object left behind (the store out of reach) is logged, for the bucket's
    lifecycle rule."""
    if storage != FileStorage.S3.value:
        return
    try:
        await to_thread.run_sync(_store_of(objects).delete, [file_id])
    except Unavailable:
        logger.warning("file %s deleted; its object is left in the store", file_id)


def _store_of(objects: ObjectStore | None) -> ObjectStore:
    if objects is None:  # written to a store this process is not configured for
        raise Unavailable("the object store holding this file", RETRY_AFTER_S)
    return objects


async def _in_thread(pieces: Iterator[bytes]) -> AsyncIterator[bytes]:
    while (piece := await to_thread.run_sync(next, pieces, None)) is not None:
        yield piece
