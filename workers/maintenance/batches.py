"""End batches and expire overdue jobs: the periodic `finish_batches` sweep.

A live batch (`in_progress`, `finalizing`) ends once none of its items is queued or
running: `completed`, `failed` when every item failed, or `expired` when its window
closed first (past `expires_at` its queued items are expired; running ones finish
and keep their results). A `cancelling` batch becomes `cancelled`, with its counts
frozen and its event, once its running items have ended. Single jobs past their
own `deadline_at` are expired too.

Safe to run concurrently: a batch is settled under its row lock (SKIP LOCKED) and
only while still unsettled, so two sweeps never end a batch or record its event twice.

With an object store configured, the result files are uploaded between two
transactions (no transaction stays open across the store's calls): the first finds
the batch ready to end, the upload follows (shared.result_uploads), and the second
ends it with rows for those objects, or deletes them when another sweep ended it
meanwhile. The API leaves every such ending to this sweep
(broker_api/batches/cancel.py).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from shared.batch_endings import BatchItems, count_items, end_batch, end_cancelled_batch
from shared.batch_output import UploadedResults
from shared.db.models import Batch, Job
from shared.errors import Unavailable
from shared.jobs import BatchStatus, JobStatus, batch_request_counts
from shared.object_store import ObjectStore
from shared.result_uploads import delete_uploaded, upload_result_files
from workers.jobs import periodic_transitions
from workers.webhooks.sender import DeliverySender

logger = logging.getLogger(__name__)

BATCH_LIMIT = 100
_LIVE = (
    BatchStatus.IN_PROGRESS.value,
    BatchStatus.FINALIZING.value,
    BatchStatus.CANCELLING.value,
)
_UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


@dataclass(frozen=True, slots=True)
class Settled:
    """A batch this sweep settled, and its event's delivery to send after commit."""

    status: str
    delivery_id: UUID | None


def finish_batches(
    sessions: sessionmaker[Session],
    sender: DeliverySender,
    *,
    limit: int = BATCH_LIMIT,
    objects: ObjectStore | None = None,
) -> int:
    """Expire overdue single jobs, settle every batch that can end (its result
    files in `objects` when given), then send the batches' deliveries; how many
    batches were settled. `sessions` must open real transactions."""
    with sessions.begin() as session:
        expired = periodic_transitions.expire_overdue_jobs(session, limit=limit * 10)
        candidates = settleable_batches(session, limit=limit)
    settled: list[Settled] = []
    for batch_id in candidates:
        if objects is None:
            with sessions.begin() as session:
                outcome = settle_batch(session, batch_id, now=datetime.now(UTC))
        else:
            outcome = _settle_with_uploads(sessions, batch_id, objects)
        if outcome is not None:
            settled.append(outcome)
            logger.info("batch %s: %s", batch_id, outcome.status)
    for outcome in settled:
        if outcome.delivery_id is not None:  # if lost, the due-webhook sweep sends it
            sender.send(outcome.delivery_id)
    if expired:
        logger.info("expired %d jobs past their deadline", expired)
    return len(settled)


def _settle_with_uploads(
    sessions: sessionmaker[Session], batch_id: UUID, objects: ObjectStore
) -> Settled | None:
    """Settle one batch whose result files go to the object store. A store that
    does not answer leaves the batch for a later sweep, and the others go on."""
    with sessions.begin() as session:
        ready = _ready_to_settle(session, batch_id, now=datetime.now(UTC))
        if ready is None:
            return None
        if ready[0].status == BatchStatus.CANCELLED:  # no files: settled here
            return _settle_ready(session, *ready, now=datetime.now(UTC))
    try:
        uploaded = upload_result_files(sessions, batch_id, objects)
    except Unavailable as error:
        logger.warning("batch %s: not ended this sweep: %s", batch_id, error)
        return None
    with sessions.begin() as session:
        outcome = settle_batch(
            session, batch_id, now=datetime.now(UTC), uploaded=uploaded
        )
    if outcome is None:
        delete_uploaded(objects, uploaded)
    return outcome


def _is_unsettled() -> ColumnElement[bool]:
    cancelled = and_(
        Batch.status == BatchStatus.CANCELLED.value, Batch.request_counts.is_(None)
    )
    return or_(Batch.status.in_(_LIVE), cancelled)


def settleable_batches(session: Session, *, limit: int) -> list[UUID]:
    """Unsettled batches with no item left to run, or whose window has closed."""
    busy = exists().where(Job.batch_id == Batch.id, Job.status.in_(_UNFINISHED))
    query = (
        select(Batch.id)
        .where(_is_unsettled(), or_(~busy, Batch.expires_at <= func.now()))
        .order_by(Batch.created_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def settle_batch(
    session: Session,
    batch_id: UUID,
    *,
    now: datetime,
    uploaded: UploadedResults | None = None,
) -> Settled | None:
    """End the batch (or freeze a cancelled one's counts) if none of its items is
    left to run, recording its event and its result files (the `uploaded` ones,
    else written to Postgres); None when it is not ready, already settled, or
    being settled by another sweep."""
    ready = _ready_to_settle(session, batch_id, now=now)
    if ready is None:
        return None
    return _settle_ready(session, *ready, now=now, uploaded=uploaded)


def _settle_ready(
    session: Session,
    batch: Batch,
    items: BatchItems,
    *,
    now: datetime,
    uploaded: UploadedResults | None = None,
) -> Settled:
    """`settle_batch` once the batch is locked and none of its items is left."""
    if batch.status == BatchStatus.CANCELLED:  # cancelled before `cancelling` existed
        batch.request_counts = batch_request_counts(batch.total, items.by_status)
        return Settled(batch.status, None)  # the API recorded `batch.cancelled`
    end = end_cancelled_batch if batch.status == BatchStatus.CANCELLING else end_batch
    delivery_id = end(session, batch, items, now=now, uploaded=uploaded)
    return Settled(batch.status, delivery_id)


def _ready_to_settle(
    session: Session, batch_id: UUID, *, now: datetime
) -> tuple[Batch, BatchItems] | None:
    """The unsettled batch under its row lock, with its items once none is left
    to run (queued ones are expired first when its window has closed); None when
    it is not ready, settled, or locked by another sweep."""
    batch = session.scalar(
        select(Batch)
        .where(Batch.id == batch_id, _is_unsettled())
        .with_for_update(skip_locked=True)
    )
    if batch is None:
        return None
    if batch.status != BatchStatus.CANCELLED and batch.expires_at <= now:
        periodic_transitions.expire_queued_batch_items(session, batch_id)
    items = count_items(session, batch_id)
    return (batch, items) if items.is_finished else None
