"""Files helixq keeps: the `files` row in Postgres, and the bytes either in its
`file_chunks` rows or in the object store (shared.object_store), as `files.storage`
says. What the API's uploads and the batch endings that write result files share."""

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from shared.db.models import FileChunk, StoredFile
from shared.errors import Unavailable
from shared.object_store import MultipartUpload, ObjectStore
from shared.settings import FileStorage

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024  # a stored row: large enough to be few, small to stream
UPLOAD_PURPOSE = "batch"  # the one purpose a client uploads for
OUTPUT_PURPOSE = "batch_output"  # files helixq writes: a batch's output and errors
OUTPUT_RETENTION_S = 30 * 86400  # as long as an upload's default retention


class FileWriter:
    """Writes one output file through a sync Session as its bytes come, so no more
    than a piece is held; an empty file is never stored.

    Without an object store the bytes are `file_chunks` rows, a row per
    CHUNK_BYTES, and the caller's transaction makes the file appear whole or not at
    all. With one they are a multipart upload, started at the first byte and
    completed by `finish` before the `files` row is inserted, so the row never
    commits without its object; `abort` drops an upload that will not be finished.
    """

    def __init__(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        filename: str,
        now: datetime,
        objects: ObjectStore | None,
    ) -> None:
        self._session = session
        self._objects = objects
        self._values = {
            "tenant_id": tenant_id,
            "purpose": OUTPUT_PURPOSE,
            "filename": filename,
            "size_bytes": 0,
            "created_at": now,
            "expires_at": now + timedelta(seconds=OUTPUT_RETENTION_S),
        }
        self.file_id = uuid.uuid4()
        self._buffer = bytearray()
        self._seq = 0
        self._upload: MultipartUpload | None = None
        self._is_complete = False
        self.size_bytes = 0

    def write(self, data: bytes) -> None:
        self.size_bytes += len(data)
        if self._objects is not None:
            self._upload_part(data, self._objects)
            return
        self._buffer.extend(data)
        while len(self._buffer) >= CHUNK_BYTES:
            self._store(bytes(self._buffer[:CHUNK_BYTES]))
            del self._buffer[:CHUNK_BYTES]

    def finish(self) -> uuid.UUID | None:
        """The file's id, or None when nothing was written."""
        if not self.size_bytes:
            return None
        if self._upload is not None:
            return self._finish_upload(self._upload)
        if self._buffer:
            self._store(bytes(self._buffer))
            self._buffer.clear()
        self._session.execute(
            update(StoredFile)
            .where(StoredFile.id == self.file_id)
            .values(size_bytes=self.size_bytes)
        )
        return self.file_id

    def abort(self) -> None:
        """Drop what the store holds of a file whose row will not commit: the
        parts of an unfinished upload, or the object of a finished one. Best effort:
        called on the way out of a failure, which is the error to report; what a
        store that does not answer keeps is left to the bucket's lifecycle rule."""
        self._buffer.clear()  # chunk rows go with the caller's rollback
        upload, self._upload = self._upload, None
        if upload is None or self._objects is None:
            return
        try:
            if self._is_complete:
                self._objects.delete([self.file_id])
            else:
                upload.abort()
        except Unavailable:
            logger.warning("file %s: its bytes are left in the store", self.file_id)

    def _finish_upload(self, upload: MultipartUpload) -> uuid.UUID:
        upload.complete()
        self._is_complete = True
        values = {**self._values, "size_bytes": self.size_bytes}
        self._session.execute(
            insert(StoredFile).values(
                id=self.file_id, storage=FileStorage.S3.value, **values
            )
        )
        return self.file_id

    def _upload_part(self, data: bytes, objects: ObjectStore) -> None:
        if self._upload is None:
            self._upload = objects.start_upload(self.file_id)
        self._upload.write(data)

    def _store(self, data: bytes) -> None:
        if self._seq == 0:  # the file row first: its chunks refer to it
            self._session.execute(
                insert(StoredFile).values(id=self.file_id, **self._values)
            )
        self._session.execute(
            insert(FileChunk).values(file_id=self.file_id, seq=self._seq, data=data)
        )
        self._seq += 1
