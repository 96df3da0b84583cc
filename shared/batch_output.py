"""A batch's output and error files, in OpenAI's batch line format, written when
the batch ends (partial results of a cancelled or expired batch included).

Each line is `{"id", "custom_id", "response", "error"}`: items that succeeded go to
the output file with `response: {status_code: 200, request_id, body}`; the others
(failed, cancelled, expired) go to the error file with `error: {code, message}`.
A file with no line is not created, and its id stays null, as with OpenAI. The
bytes go where the deployment keeps files: Postgres rows, or the object store when
one is configured (shared.stored_files).
"""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, select, tuple_
from sqlalchemy.orm import Session

from shared.db.models import Batch, Job
from shared.jobs import JobStatus
from shared.object_store import ObjectStore
from shared.redaction import redact
from shared.stored_files import FileWriter

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


def write_result_files(
    session: Session, batch: Batch, *, now: datetime, objects: ObjectStore | None
) -> None:
    """Set the batch's output_file_id and error_file_id from its ended items, the
    bytes in `objects` when given (else in Postgres). On any error the uploads are
    dropped and the error raised: the caller's rollback leaves the batch unended."""
    output, errors = (
        FileWriter(
            session,
            tenant_id=batch.tenant_id,
            filename=f"batch_{batch.id.hex}_{kind}.jsonl",
            now=now,
            objects=objects,
        )
        for kind in ("output", "error")
    )
    try:
        for row in _items(session, batch.id):
            writer = output if row.status == JobStatus.SUCCEEDED.value else errors
            writer.write((json.dumps(result_line(row)) + "\n").encode())
        batch.output_file_id = output.finish()
        batch.error_file_id = errors.finish()
    except BaseException:
        output.abort()
        errors.abort()
        raise


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


def _items(session: Session, batch_id: UUID) -> Iterator[Row[Any]]:
    """The batch's ended items in order, a page at a time (keyset, no open cursor
    while the files are written on the same connection)."""
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
        page = session.execute(
            query
            if after is None
            else query.where(tuple_(Job.created_at, Job.id) > tuple_(*after))
        ).all()
        yield from page
        if len(page) < PAGE_ROWS:
            return
        after = (page[-1].created_at, page[-1].id)
