"""A batch's result files uploaded to the object store before the batch ends.

No transaction stays open across the store's calls: the ended items are read a page
at a time, each page its own short read (an ended item no longer changes), their
lines go out as multipart uploads, and only then does the ending transaction insert
the files' rows (shared.batch_output.write_result_files). The objects of an ending
that did not commit are deleted; a crash in between leaves them to the bucket's
lifecycle rule (shared.object_store).
"""

import logging
import uuid
from typing import Any
from uuid import UUID

from sqlalchemy import Row, Select
from sqlalchemy.orm import Session, sessionmaker

from shared.batch_output import (
    UploadedFile,
    UploadedResults,
    ended_items,
    write_lines,
)
from shared.errors import Unavailable
from shared.object_store import MultipartUpload, ObjectStore

logger = logging.getLogger(__name__)


class _ObjectWriter:
    """One result file as a multipart upload, started at its first byte."""

    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects
        self.file_id = uuid.uuid4()
        self._upload: MultipartUpload | None = None
        self._size_bytes = 0
        self._is_complete = False

    def write(self, data: bytes) -> None:
        if self._upload is None:
            self._upload = self._objects.start_upload(self.file_id)
        self._upload.write(data)
        self._size_bytes += len(data)

    def finish(self) -> UploadedFile | None:
        """The complete object; None when no line was written (no object)."""
        if self._upload is None:
            return None
        self._upload.complete()
        self._is_complete = True
        return UploadedFile(self.file_id, self._size_bytes)

    def abort(self) -> None:
        """Drop what the store holds of it. Best effort: called on the way out of
        the failure that is the error to report."""
        if self._upload is None:
            return
        try:
            if self._is_complete:
                self._objects.delete([self.file_id])
            else:
                self._upload.abort()
        except Unavailable:
            logger.warning("file %s: its bytes are left in the store", self.file_id)


def upload_result_files(
    sessions: sessionmaker[Session], batch_id: UUID, objects: ObjectStore
) -> UploadedResults:
    """Upload the output and error files of a batch whose items have all ended.
    Raises Unavailable when the store does not answer (nothing is left of it)."""

    def read(query: Select[Any]) -> list[Row[Any]]:
        with sessions() as session:
            return list(session.execute(query).all())

    output, errors = _ObjectWriter(objects), _ObjectWriter(objects)
    try:
        write_lines(ended_items(read, batch_id), output, errors)
        return UploadedResults(output.finish(), errors.finish())
    except BaseException:
        output.abort()
        errors.abort()
        raise


def delete_uploaded(objects: ObjectStore, uploaded: UploadedResults) -> None:
    """Delete the objects of an ending that did not happen (another sweep ended
    the batch first). Best effort, as `_ObjectWriter.abort`."""
    files = [file for file in (uploaded.output, uploaded.errors) if file is not None]
    try:
        objects.delete([file.file_id for file in files])
    except Unavailable:
        logger.warning("%d result files are left in the store", len(files))
