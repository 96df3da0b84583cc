"""Batch use cases: submit (inline, JSONL or a file), read, list, stream results."""

import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker_api import idempotency
from broker_api.batches import queries
from broker_api.batches.ingest import Ingest
from broker_api.batches.views import (
    BatchList,
    BatchView,
    batch_view,
    result_line,
    upstream_batch_view,
)
from broker_api.deps import Caller
from broker_api.enqueue import Enqueuer
from shared.db.models import Batch
from shared.durations import parse_duration_s
from shared.errors import (
    BatchNotFound,
    DiscountLaneRefused,
    InvalidRequest,
)
from shared.jobs import BatchStatus, JobStatus, batch_request_counts
from shared.lanes import Lane, LanePolicy
from shared.model_access import with_allowed
from shared.schemas import BatchOptions
from shared.task_messages import Priority
from shared.webhooks.outbox import record_batch_event

MAX_WINDOW_S = 7 * 86400
PUBLISH_PAGE = 8000  # job ids read back and published at a time (500 messages)


def completion_window_s(text: str) -> int:
    try:
        seconds = parse_duration_s(text)
    except ValueError as exc:
        raise InvalidRequest(
            f"completion_window: {exc}", details={"field": "completion_window"}
        ) from None
    if not 60 <= seconds <= MAX_WINDOW_S:
        raise InvalidRequest(
            "completion_window must be between 1m and 7d",
            details={"field": "completion_window"},
        )
    return int(seconds)


@dataclass(frozen=True)
class Submission:
    options: BatchOptions
    rows: AsyncIterator[dict[str, Any]]
    ingest: Ingest
    body_hash: Callable[[], str]  # known once every row has been read
    idempotency_key: str | None = None
    # OpenAI's form: the rows are this file's lines, and bad lines fail the batch
    # (stored `failed`, naming them) instead of refusing the request.
    input_file_id: UUID | None = None
    endpoint: str = "/v1/chat/completions"


def _new_batch(caller: Caller, submission: Submission, window_s: int) -> Batch:
    now = datetime.now(UTC)
    options = submission.options
    from_file = submission.input_file_id is not None
    return Batch(
        tenant_id=caller.tenant_id,
        # Lines are validated in the transaction that stores the batch, so a
        # committed batch is never seen `validating`.
        status=(BatchStatus.VALIDATING if from_file else BatchStatus.IN_PROGRESS).value,
        lane=options.lane.value,
        route=with_allowed(
            options.route.model_dump(exclude_none=True) if options.route else None,
            caller.allowed_models,
        ),
        webhook_url=options.webhook_url,
        metadata_=options.metadata,
        endpoint=submission.endpoint,
        input_file_id=submission.input_file_id,
        completion_window_s=window_s,
        total=0,
        created_at=now,
        in_progress_at=None if from_file else now,
        expires_at=now + timedelta(seconds=window_s),
    )


def _job_values(batch: Batch, row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{name: value for name, value in row.items() if name != "line"},
        "tenant_id": batch.tenant_id,
        "batch_id": batch.id,
        "status": JobStatus.QUEUED.value,
        "route": batch.route,
        "priority": int(Priority.BATCH),
        "deadline_at": batch.expires_at,
    }


async def _write_rows(
    session: AsyncSession,
    batch: Batch,
    ingest: Ingest,
    rows: AsyncIterator[dict[str, Any]],
) -> int:
    """Insert valid rows a chunk at a time as they are validated, none after an
    error; how many were written. Nothing is kept of a chunk once it is written:
    the custom_ids seen so far are in Postgres (queries.start_custom_ids)."""
    await queries.start_custom_ids(session)
    total = 0
    chunk: list[dict[str, Any]] = []
    async for row in rows:
        chunk.append(row)
        if len(chunk) >= queries.INSERT_CHUNK:
            total += await _write_chunk(session, batch, ingest, chunk)
            chunk = []
    if chunk:
        total += await _write_chunk(session, batch, ingest, chunk)
    return total


async def _write_chunk(
    session: AsyncSession, batch: Batch, ingest: Ingest, chunk: list[dict[str, Any]]
) -> int:
    # Repeats are checked even after an error, to report every bad line.
    firsts = await queries.first_lines(
        session, [(row["custom_id"], row["line"]) for row in chunk]
    )
    for row in chunk:
        if row["line"] not in firsts:
            ingest.reject(
                row["line"], row["custom_id"], "custom_id is not unique in this batch"
            )
    if ingest.error_count:
        return 0
    await queries.insert_jobs(session, [_job_values(batch, row) for row in chunk])
    return len(chunk)


def _invalid(ingest: Ingest) -> InvalidRequest:
    errors = [
        {"line": e.line, "custom_id": e.custom_id, "code": e.code, "message": e.message}
        for e in ingest.sorted_errors()
    ]
    first = ingest.sorted_errors()[0]
    refused = all(e.code == DiscountLaneRefused.code for e in ingest.errors)
    kind = DiscountLaneRefused if refused else InvalidRequest
    return kind(
        f"{ingest.error_count} request(s) of the batch are invalid; first at line "
        f"{first.line}: {first.message}. Nothing was queued.",
        details={"error_count": ingest.error_count, "errors": errors},
    )


async def _write_request_rows(
    session: AsyncSession, batch: Batch, submission: Submission
) -> int:
    ingest = submission.ingest
    written = await _write_rows(session, batch, ingest, submission.rows)
    if ingest.error_count:
        raise _invalid(ingest)
    if not written:
        raise InvalidRequest("the batch has no requests", details={"field": "requests"})
    return written


async def _write_file_rows(
    session: AsyncSession, batch: Batch, submission: Submission
) -> int:
    """OpenAI's `validating`: every line is checked; one bad line fails the batch
    with each bad line named, and none of its rows is kept or queued."""
    savepoint = await session.begin_nested()
    written = await _write_rows(session, batch, submission.ingest, submission.rows)
    now = datetime.now(UTC)
    if written and not submission.ingest.error_count:
        await savepoint.commit()
        batch.status, batch.in_progress_at = BatchStatus.IN_PROGRESS.value, now
        return written
    await savepoint.rollback()
    batch.status, batch.failed_at = BatchStatus.FAILED.value, now
    batch.errors = _validation_errors(submission.ingest)
    batch.request_counts = batch_request_counts(0, {})
    await session.run_sync(lambda sync: record_batch_event(sync, batch, now=now))
    return 0


def _validation_errors(ingest: Ingest) -> list[dict[str, Any]]:
    if not ingest.error_count:
        return [
            {"code": "empty_file", "message": "the file has no requests", "line": None}
        ]
    return [
        {"code": e.code, "message": e.message, "param": e.custom_id, "line": e.line}
        for e in ingest.sorted_errors()
    ]


class _Replay(Exception):
    """A repeated Idempotency-Key: roll back what was written, answer as before."""

    def __init__(self, stored: idempotency.StoredAnswer) -> None:
        self.stored = stored


async def submit_batch(
    session: AsyncSession, enqueuer: Enqueuer, caller: Caller, submission: Submission
) -> BatchView:
    """All or nothing: the batch and its jobs commit together, then are published.

    The Idempotency-Key is reserved after the rows are read (a streamed upload's hash
    is known only then) but in the same transaction, so duplicates still serialise.
    """
    window_s = completion_window_s(submission.options.completion_window)
    submission.ingest.lanes = LanePolicy(
        requested=submission.options.lane,
        window_s=window_s,
        catalog_ids=submission.ingest.catalog_ids,
        default_model=caller.default_model,
    )
    try:
        async with session.begin():
            batch = _new_batch(caller, submission, window_s)
            session.add(batch)
            await session.flush()
            if submission.input_file_id is None:
                written = await _write_request_rows(session, batch, submission)
            else:
                written = await _write_file_rows(session, batch, submission)
            batch.total = written
            view = batch_view(batch, {})
            await _remember(session, caller, submission, view)
    except _Replay as replay:
        return BatchView.model_validate(replay.stored.body)
    if written:
        await _publish(session, enqueuer, caller, batch.id)
    return view


async def _publish(
    session: AsyncSession, enqueuer: Enqueuer, caller: Caller, batch_id: UUID
) -> None:
    """Publish the committed batch's realtime jobs, read back a page at a time
    (each page its own short transaction), so no list of them grows with the batch.
    Discount-lane lines are not published: the worker's upstream submission picks
    them up from Postgres (workers.maintenance)."""
    after: UUID | None = None
    while True:
        async with session.begin():
            ids = await queries.realtime_job_ids(
                session, batch_id, after=after, limit=PUBLISH_PAGE
            )
        if ids:
            await enqueuer.enqueue_completions(ids, caller.slug, Priority.BATCH)
        if len(ids) < PUBLISH_PAGE:
            return
        after = ids[-1]


async def _remember(
    session: AsyncSession, caller: Caller, submission: Submission, view: BatchView
) -> None:
    key = submission.idempotency_key
    if key is None:
        return
    run = idempotency.on_session(session)
    stored = await idempotency.reserve(
        run, caller.tenant_id, key, submission.body_hash()
    )
    if stored is not None:
        raise _Replay(stored)
    answer = idempotency.StoredAnswer(201, view.model_dump(mode="json"))
    await idempotency.remember(run, caller.tenant_id, key, answer)


async def inline_rows(items: Iterable[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for item in items:
        yield item


async def read_batch(
    session: AsyncSession, caller: Caller, batch_id: UUID
) -> BatchView:
    async with session.begin():
        batch = await queries.find_batch(session, caller.tenant_id, batch_id)
        if batch is None:
            raise BatchNotFound(batch_id)
        counts = (
            {}
            if batch.request_counts
            else await queries.count_by_status(session, batch_id)
        )
        view = batch_view(batch, counts)
        if batch.lane != Lane.REALTIME.value:
            rows = await queries.upstream_batches(session, batch_id)
            view.upstream_batches = [upstream_batch_view(row) for row in rows]
        return view


async def list_batches(
    session: AsyncSession, caller: Caller, *, limit: int, after: UUID | None
) -> BatchList:
    async with session.begin():
        batches = await queries.list_batches(
            session, caller.tenant_id, limit=limit + 1, after=after
        )
        page = list(batches[:limit])
        views = [
            batch_view(
                b,
                {}
                if b.request_counts
                else await queries.count_by_status(session, b.id),
            )
            for b in page
        ]
    return BatchList(
        data=views, has_more=len(batches) > limit, last_id=page[-1].id if page else None
    )


async def stream_results(
    sessions: async_sessionmaker[AsyncSession], batch_id: UUID
) -> AsyncIterator[bytes]:
    """JSONL, a line per item, read with a server-side cursor (never all in memory)."""
    async with sessions() as session, session.begin():
        result = await session.stream(queries.result_rows_query(batch_id))
        async for row in result:
            yield (json.dumps(result_line(row)) + "\n").encode()
