"""A batch's output and error files, in OpenAI's batch line format, written when
the batch ends (partial results of a cancelled or expired batch included).

Each line is `{"id", "custom_id", "response", "error"}`: items that succeeded go to
the output file with `response: {status_code: 200, request_id, body}`; the others
(failed, cancelled, expired) go to the error file with `error: {code, message}`.
A file with no line is not created, and its id stays null, as with OpenAI.

The bytes go where the deployment keeps files: `file_chunks` rows written in the
batch's ending transaction, or objects uploaded before it (shared.result_uploads),
since no transaction is held open across the object store's calls.
"""

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import Row, Select, select, tuple_
from sqlalchemy.orm import Session

from shared.db.models import Batch, Job
from shared.jobs import JobStatus
from shared.redaction import redact
from shared.stored_files import FileWriter, insert_object_row, output_file_values

PAGE_ROWS = 500
# What OpenAI's error lines say of requests that never ran.
_NOT_RUN = {
    JobStatus.CANCELLED.value: (
        "batch_cancelled",
        "the batch was cancelled before this request ran",
    ),
    JobStatus.EXPIRED.value: (
        "batch_expired",
        "the completion window closed before this request ran",
    ),
}

# Reads one page of items (a query in, its rows out).
PageReader = Callable[[Select[Any]], Sequence[Row[Any]]]


class LineSink(Protocol):
    def write(self, data: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A result file already complete in the object store."""

    file_id: UUID
    size_bytes: int


@dataclass(frozen=True, slots=True)
class UploadedResults:
    """A batch's result files in the object store (None: no line of that kind)."""

    output: UploadedFile | None
    errors: UploadedFile | None


def write_result_files(
    session: Session,
    batch: Batch,
    *,
    now: datetime,
    uploaded: UploadedResults | None = None,
) -> None:
    """Set the batch's output_file_id and error_file_id: rows for the `uploaded`
    objects, else the files written here, from its ended items, into Postgres."""
    if uploaded is not None:
        batch.output_file_id = _object_row(
            session, batch, "output", uploaded.output, now
        )
        batch.error_file_id = _object_row(session, batch, "error", uploaded.errors, now)
        return
    output, errors = (
        FileWriter(
            session,
            tenant_id=batch.tenant_id,
            filename=_filename(batch.id, kind),
            now=now,
        )
        for kind in ("output", "error")
    )
    write_lines(
        ended_items(lambda query: session.execute(query).all(), batch.id),
        output,
        errors,
    )
    batch.output_file_id = output.finish()
    batch.error_file_id = errors.finish()


def write_lines(rows: Iterable[Row[Any]], output: LineSink, errors: LineSink) -> None:
    """Each ended item's line, into the output file if it succeeded, else errors."""
    for row in rows:
        writer = output if row.status == JobStatus.SUCCEEDED.value else errors
        writer.write((json.dumps(result_line(row)) + "\n").encode())


def _filename(batch_id: UUID, kind: str) -> str:
    return f"batch_{batch_id.hex}_{kind}.jsonl"


def _object_row(
    session: Session, batch: Batch, kind: str, file: UploadedFile | None, now: datetime
) -> UUID | None:
    if file is None:
        return None
    values = output_file_values(batch.tenant_id, _filename(batch.id, kind), now=now)
    insert_object_row(session, file.file_id, values, size_bytes=file.size_bytes)
    return file.file_id


def result_line(row: Row[Any]) -> dict[str, Any]:
    line_id = f"batch_req_{row.id.hex}"
    if row.status == JobStatus.SUCCEEDED.value:
        response = {"status_code": 200, "request_id": str(row.id), "body": row.result}
        return {
            "id": line_id,
            "custom_id": row.custom_id,
            "response": response,
            "error": None,
        }
    code, message = _NOT_RUN.get(
        row.status, (row.error_code or "failed", row.error_message or "")
    )
    # Whatever a stored row holds, no secret shape is served.
    error = {"code": code, "message": redact(message)}
    return {"id": line_id, "custom_id": row.custom_id, "response": None, "error": error}


def ended_items(read: PageReader, batch_id: UUID) -> Iterator[Row[Any]]:
    """The batch's ended items in order, a page at a time (keyset: no cursor is
    left open between pages, so each page may be its own read)."""
    query = (
        select(
            Job.id,
            Job.custom_id,
            Job.status,
            Job.result,
            Job.error_code,
            Job.error_message,
            Job.created_at,
        )
        .where(Job.batch_id == batch_id)
        .order_by(Job.created_at, Job.id)
        .limit(PAGE_ROWS)
    )
    after: tuple[datetime, UUID] | None = None
    while True:
        page = read(
            query
            if after is None
            else query.where(tuple_(Job.created_at, Job.id) > tuple_(*after))
        )
        yield from page
        if len(page) < PAGE_ROWS:
            return
        after = (page[-1].created_at, page[-1].id)
