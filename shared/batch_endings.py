"""How a batch ends once none of its items is left to run.

The `finish_batches` sweep ends batches this way, and so does a cancel that finds
every item already ended: a batch whose items all ended has the same outcome
whoever notices first. Plain functions over a sync Session; the API calls them
through `AsyncSession.run_sync`, and only when files are kept in Postgres: with an
object store the result files are uploaded before the ending transaction
(shared.result_uploads), which the sweep does and the API leaves to it.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.batch_output import UploadedResults, write_result_files
from shared.db.models import Batch, Job
from shared.jobs import BatchStatus, JobStatus, batch_request_counts
from shared.webhooks.outbox import record_batch_event

_UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


@dataclass(frozen=True, slots=True)
class BatchItems:
    """A batch's items counted by status, and when the last one ended."""

    by_status: dict[str, int]
    last_finished_at: datetime | None

    @property
    def is_finished(self) -> bool:
        return not any(self.by_status.get(status) for status in _UNFINISHED)


def count_items(session: Session, batch_id: UUID) -> BatchItems:
    rows = session.execute(
        select(Job.status, func.count(), func.max(Job.finished_at))
        .where(Job.batch_id == batch_id)
        .group_by(Job.status)
    ).all()
    finished = [row[2] for row in rows if row[2] is not None]
    return BatchItems(
        by_status={str(row[0]): int(row[1]) for row in rows},
        last_finished_at=max(finished, default=None),
    )


def end_batch(
    session: Session,
    batch: Batch,
    items: BatchItems,
    *,
    now: datetime,
    uploaded: UploadedResults | None = None,
) -> UUID | None:
    """End a batch whose items are all finished: its status, timestamps and frozen
    counts, its result files (the `uploaded` ones, else written to Postgres here),
    and its event in the outbox (the delivery's id, None without a URL). The caller
    holds the batch's row lock."""
    batch.request_counts = batch_request_counts(batch.total, items.by_status)
    _set_outcome(batch, items, now=now)
    write_result_files(session, batch, now=now, uploaded=uploaded)
    session.flush()
    return record_batch_event(session, batch, now=now)


def end_cancelled_batch(
    session: Session,
    batch: Batch,
    items: BatchItems,
    *,
    now: datetime,
    uploaded: UploadedResults | None = None,
) -> UUID | None:
    """A cancelled batch whose last running item has ended: `cancelled`, its counts
    frozen, its result files as in `end_batch`, its event recorded. The caller holds
    the batch's row lock."""
    batch.request_counts = batch_request_counts(batch.total, items.by_status)
    batch.status, batch.cancelled_at = BatchStatus.CANCELLED.value, now
    write_result_files(session, batch, now=now, uploaded=uploaded)
    session.flush()
    return record_batch_event(session, batch, now=now)


def ending_status(batch: Batch, items: BatchItems) -> BatchStatus:
    """What a batch whose items are all finished ends as (end_batch sets it)."""
    # Expired when the window closed before the last item ended (queued items were
    # expired then); otherwise it finalizes at once: results are already in place.
    if items.last_finished_at is not None and items.last_finished_at > batch.expires_at:
        return BatchStatus.EXPIRED
    if batch.total and items.by_status.get(JobStatus.FAILED.value) == batch.total:
        return BatchStatus.FAILED
    return BatchStatus.COMPLETED


def _set_outcome(batch: Batch, items: BatchItems, *, now: datetime) -> None:
    status = ending_status(batch, items)
    batch.status = status.value
    if status is BatchStatus.EXPIRED:
        batch.expired_at = now
        return
    batch.finalizing_at = now
    if status is BatchStatus.FAILED:
        batch.failed_at = now
    else:
        batch.completed_at = now
