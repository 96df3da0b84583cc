"""End batches and expire overdue jobs: the periodic `finish_batches` sweep.

A live batch (`in_progress`, `finalizing`) ends once none of its items is queued or
running: `completed`, `failed` when every item failed, or `expired` when its window
closed first (past `expires_at` its queued items are expired; running ones finish
and keep their results). A batch cancelled by the API (which recorded the event)
only gets its counts frozen, once its running items have ended. Single jobs past
their own `deadline_at` are expired too.

Safe to run concurrently: a batch is settled under its row lock (SKIP LOCKED) and
only while still unsettled, so two sweeps never end a batch or record its event twice.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from shared.db.models import Batch, Job
from shared.jobs import BatchStatus, JobStatus, batch_request_counts
from shared.webhooks.outbox import record_batch_event
from workers.jobs import transitions
from workers.webhooks.sender import DeliverySender

logger = logging.getLogger(__name__)

BATCH_LIMIT = 100
_LIVE = (BatchStatus.IN_PROGRESS.value, BatchStatus.FINALIZING.value)
_UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


@dataclass(frozen=True, slots=True)
class Settled:
    """A batch this sweep settled, and its event's delivery to send after commit."""

    status: str
    delivery_id: UUID | None


@dataclass(frozen=True, slots=True)
class _Items:
    by_status: dict[str, int]
    last_finished_at: datetime | None

    @property
    def is_finished(self) -> bool:
        return not any(self.by_status.get(status) for status in _UNFINISHED)


def finish_batches(
    sessions: sessionmaker[Session], sender: DeliverySender, *, limit: int = BATCH_LIMIT
) -> int:
    """Expire overdue single jobs, settle every batch that can end, then send the
    batches' deliveries; how many batches were settled. `sessions` must open real
    transactions."""
    with sessions.begin() as session:
        expired = transitions.expire_overdue_jobs(session, limit=limit * 10)
        candidates = settleable_batches(session, limit=limit)
    settled: list[Settled] = []
    for batch_id in candidates:
        with sessions.begin() as session:
            outcome = settle_batch(session, batch_id, now=datetime.now(UTC))
        if outcome is not None:
            settled.append(outcome)
            logger.info("batch %s: %s", batch_id, outcome.status)
    for outcome in settled:
        if outcome.delivery_id is not None:  # if lost, the due-webhook sweep sends it
            sender.send(outcome.delivery_id)
    if expired:
        logger.info("expired %d jobs past their deadline", expired)
    return len(settled)


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


def settle_batch(session: Session, batch_id: UUID, *, now: datetime) -> Settled | None:
    """End the batch (or freeze a cancelled one's counts) if none of its items is
    left to run, recording its event; None when it is not ready, already settled,
    or being settled by another sweep."""
    batch = session.scalar(
        select(Batch)
        .where(Batch.id == batch_id, _is_unsettled())
        .with_for_update(skip_locked=True)
    )
    if batch is None:
        return None
    if batch.status != BatchStatus.CANCELLED and batch.expires_at <= now:
        transitions.expire_queued_batch_items(session, batch_id)
    items = _count_items(session, batch_id)
    if not items.is_finished:
        return None
    batch.request_counts = batch_request_counts(batch.total, items.by_status)
    if batch.status == BatchStatus.CANCELLED:
        return Settled(batch.status, None)  # the API recorded `batch.cancelled`
    _end(batch, items, now=now)
    session.flush()
    return Settled(batch.status, record_batch_event(session, batch, now=now))


def _count_items(session: Session, batch_id: UUID) -> _Items:
    rows = session.execute(
        select(Job.status, func.count(), func.max(Job.finished_at))
        .where(Job.batch_id == batch_id)
        .group_by(Job.status)
    ).all()
    finished = [row[2] for row in rows if row[2] is not None]
    return _Items(
        by_status={str(row[0]): int(row[1]) for row in rows},
        last_finished_at=max(finished, default=None),
    )


def _end(batch: Batch, items: _Items, *, now: datetime) -> None:
    # Expired when the window closed before the last item ended (queued items were
    # expired then); otherwise it finalizes at once: results are already in place.
    if items.last_finished_at is not None and items.last_finished_at > batch.expires_at:
        batch.status, batch.expired_at = BatchStatus.EXPIRED.value, now
        return
    batch.finalizing_at = now
    if batch.total and items.by_status.get(JobStatus.FAILED.value) == batch.total:
        batch.status, batch.failed_at = BatchStatus.FAILED.value, now
    else:
        batch.status, batch.completed_at = BatchStatus.COMPLETED.value, now
