"""Files helixq keeps: the `files` row in Postgres, and the bytes in its
`file_chunks` rows or in the object store (shared.object_store), as `files.storage`
says. What the API's uploads and the batch endings that write result files share."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from shared.db.models import FileChunk, StoredFile
from shared.settings import FileStorage

CHUNK_BYTES = 1024 * 1024  # a stored row: large enough to be few, small to stream
UPLOAD_PURPOSE = "batch"  # the one purpose a client uploads for
OUTPUT_PURPOSE = "batch_output"  # files helixq writes: a batch's output and errors
OUTPUT_RETENTION_S = 30 * 86400  # as long as an upload's default retention


class FileWriter:
    """Writes one output file through a sync Session as its bytes come, a row per
    CHUNK_BYTES, so no more than a row is held; an empty file is never stored.
    The caller's transaction makes the file appear whole or not at all."""

    def __init__(
        self, session: Session, *, tenant_id: uuid.UUID, filename: str, now: datetime
    ) -> None:
        self._session = session
        self._values = output_file_values(tenant_id, filename, now=now)
        self.file_id = uuid.uuid4()
        self._buffer = bytearray()
        self._seq = 0
        self.size_bytes = 0

    def write(self, data: bytes) -> None:
        self._buffer.extend(data)
        self.size_bytes += len(data)
        while len(self._buffer) >= CHUNK_BYTES:
            self._store(bytes(self._buffer[:CHUNK_BYTES]))
            del self._buffer[:CHUNK_BYTES]

    def finish(self) -> uuid.UUID | None:
        """The file's id, or None when nothing was written."""
        if not self.size_bytes:
            return None
        if self._buffer:
            self._store(bytes(self._buffer))
            self._buffer.clear()
        self._session.execute(
            update(StoredFile)
            .where(StoredFile.id == self.file_id)
            .values(size_bytes=self.size_bytes)
        )
        return self.file_id

    def _store(self, data: bytes) -> None:
        if self._seq == 0:  # the file row first: its chunks refer to it
            self._session.execute(
                insert(StoredFile).values(id=self.file_id, **self._values)
            )
        self._session.execute(
            insert(FileChunk).values(file_id=self.file_id, seq=self._seq, data=data)
        )
        self._seq += 1


def output_file_values(
    tenant_id: uuid.UUID, filename: str, *, now: datetime
) -> dict[str, object]:
    """The `files` row of a file helixq writes, before its size is known."""
    return {
        "tenant_id": tenant_id,
        "purpose": OUTPUT_PURPOSE,
        "filename": filename,
        "size_bytes": 0,
        "created_at": now,
        "expires_at": now + timedelta(seconds=OUTPUT_RETENTION_S),
    }


def insert_object_row(
    session: Session,
    file_id: uuid.UUID,
    values: dict[str, object],
    *,
    size_bytes: int,
) -> None:
    """The `files` row of a file whose bytes are already an object in the store."""
    session.execute(
        insert(StoredFile).values(
            id=file_id,
            **{**values, "size_bytes": size_bytes},
            storage=FileStorage.S3.value,
        )
    )
