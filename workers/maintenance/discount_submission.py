"""Send discount-lane lines to OpenRouter's Batch API, without paying twice.

Each pass of the `submit_discount_lines` sweep (celery beat):

1. **Group.** Lines waiting for an upstream batch are routed by the tenant's
   strategy at batch prices and grouped per helixq batch and model into upstream
   batches, within OpenRouter's limits, the in-flight caps and the tenants' budgets
   (workers.maintenance.discount_grouping). Each group's `upstream_batches` row
   (`submitting`) and its jobs' link to it commit before anything is sent. A row
   whose helixq batch was cancelled before it was sent is never sent (`withdrawn`).
2. **Send.** `sent_at` is committed, then the POST goes out with `custom_id` = the
   job id; OpenRouter's answer records its batch id.
3. **Reconcile.** OpenRouter takes no idempotency key, so a row sent whose answer
   was lost (`sent_at` set, no `upstream_id`) is looked for among OpenRouter's recent
   batches once HELIXQ_DISCOUNT_RECONCILE_AFTER_S has passed: one batch of the same
   model and size created since, not yet known here, is adopted; none, and the row
   is sent again; several, and it waits rather than guess.

Rows are taken with FOR UPDATE SKIP LOCKED, so concurrent sweeps never send a row
twice.
"""

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from shared.db.models import Job
from shared.db.upstream_batches import UpstreamBatch
from shared.queues import tenant_queue
from workers.jobs import periodic_transitions
from workers.maintenance.discount_budget import release_reservation
from workers.maintenance.discount_grouping import group_waiting_lines, line_body
from workers.maintenance.discount_lane import (
    REFUSED,
    SUBMITTING,
    WITHDRAWN,
    DiscountConfig,
    DiscountDeps,
)
from workers.openrouter.batches import BatchApi, create_body
from workers.openrouter.errors import UpstreamError, UpstreamRejected

logger = logging.getLogger(__name__)

# The advisory lock that keeps submission passes one at a time.
PASS_LOCK = 0x68656C6978710001
_TAKE_PASS = text("SELECT pg_try_advisory_lock(:key)")
_GIVE_PASS = text("SELECT pg_advisory_unlock(:key)")
# OpenRouter's clock and ours may differ: look a little before the send.
CLOCK_SLACK_S = 120
__all__ = ["DiscountConfig", "DiscountDeps", "submit_discount_lines"]


def _due_submissions(
    session: Session, *, now: datetime, config: DiscountConfig
) -> list[UUID]:
    reconcile_before = now - timedelta(seconds=config.reconcile_after_s)
    return list(
        session.scalars(
            select(UpstreamBatch.id).where(
                UpstreamBatch.status == SUBMITTING,
                (UpstreamBatch.sent_at.is_(None))
                | (UpstreamBatch.sent_at <= reconcile_before),
            )
        )
    )


def submit_discount_lines(deps: DiscountDeps) -> int:
    """Group waiting lines, send new upstream batches and reconcile lost answers;
    how many upstream batches are now known upstream. One pass at a time across the
    deployment: a reconciliation must never see the batch of a POST another pass
    has in flight, which it could take for its own lost one."""
    with deps.sessions() as guard:
        # Autocommit: the lock is the connection's, no transaction stays open; a
        # worker that dies drops its connection and the lock with it.
        connection = guard.connection(
            execution_options={"isolation_level": "AUTOCOMMIT"}
        )
        if not connection.scalar(_TAKE_PASS, {"key": PASS_LOCK}):
            return 0
        try:
            return _pass(deps)
        finally:
            connection.execute(_GIVE_PASS, {"key": PASS_LOCK})


def _pass(deps: DiscountDeps) -> int:
    with deps.sessions.begin() as session:
        grouped = group_waiting_lines(session, deps.config, deps.redis)
        due = _due_submissions(session, now=datetime.now(UTC), config=deps.config)
    if grouped.upstream_batches or grouped.failed:
        logger.info(
            "discount lane: %d upstream batches to send, %d lines failed",
            grouped.upstream_batches,
            grouped.failed,
        )
    return sum(_submit(deps, row_id) for row_id in due)


def _submit(deps: DiscountDeps, row_id: UUID) -> int:
    sessions = deps.sessions
    with sessions.begin() as session:
        row = session.scalar(
            select(UpstreamBatch)
            .where(UpstreamBatch.id == row_id, UpstreamBatch.status == SUBMITTING)
            .with_for_update(skip_locked=True)
        )
        if row is None:
            return 0
        try:
            api = deps.api_of(session, row.tenant_id)
        except UpstreamRejected as error:
            refusal: UpstreamError | None = error
        else:
            refusal = None
            prepared = _prepare(deps, session, api, row)
            if isinstance(prepared, int):
                return prepared
            body = prepared
    if refusal is not None:
        _record_failed_send(deps, row_id, refusal)
        return 0
    # Committed: from here a lost answer is found by reconciling, never resent blind.
    try:
        answer = api.create(body)
    except UpstreamError as error:
        _record_failed_send(deps, row_id, error)
        return 0
    with sessions.begin() as session:
        _record_answer(session, row_id, answer)
    return 1


def _prepare(
    deps: DiscountDeps, session: Session, api: BatchApi, row: UpstreamBatch
) -> bytes | int:
    """The body to send (its sending recorded first); or, when nothing is to be
    sent, what the pass counts: 1 for a lost answer found upstream, else 0."""
    if row.sent_at is not None:
        found = _reconcile(session, api, row)
        if found is not Reconciled.ABSENT:
            return int(found is Reconciled.ADOPTED)
    if not _has_waiting_lines(session, row):
        _withdraw(deps, session, row)
        return 0
    body = _body(session, row, deps.config)
    row.sent_at = datetime.now(UTC)
    row.send_count += 1
    return body


class Reconciled(StrEnum):
    ADOPTED = "adopted"  # found upstream: its id is recorded
    AMBIGUOUS = "ambiguous"  # several candidates: wait rather than guess
    ABSENT = "absent"  # not upstream: safe to send


def _reconcile(session: Session, api: BatchApi, row: UpstreamBatch) -> Reconciled:
    """Look for a sent row's batch among OpenRouter's recent ones."""
    assert row.sent_at is not None
    since = int(row.sent_at.timestamp()) - CLOCK_SLACK_S
    known = set(
        session.scalars(
            select(UpstreamBatch.upstream_id).where(
                UpstreamBatch.upstream_id.is_not(None)
            )
        )
    )
    matches = [
        item
        for item in api.recent(created_after=since)
        if str(item.get("id")) not in known
        and str(item.get("model")) == row.model
        and (item.get("request_counts") or {}).get("total") == row.request_count
    ]
    if len(matches) > 1:
        row.error = "several upstream batches match this lost submission; not resent"
        return Reconciled.AMBIGUOUS
    if not matches:
        return Reconciled.ABSENT
    _apply(row, matches[0])
    logger.info("upstream batch %s: lost answer found: %s", row.id, row.upstream_id)
    return Reconciled.ADOPTED


def _body(session: Session, row: UpstreamBatch, config: DiscountConfig) -> bytes:
    jobs = session.execute(
        select(Job.id, Job.request)
        .where(Job.upstream_batch_id == row.id)
        .order_by(Job.created_at, Job.id)
    )
    lines = [(str(job_id), line_body(request)) for job_id, request in jobs]
    return create_body(row.model, lines, callback_url=config.callback_url)


def _has_waiting_lines(session: Session, row: UpstreamBatch) -> bool:
    waiting = select(Job.id).where(
        Job.upstream_batch_id == row.id, Job.status == "queued"
    )
    return session.scalar(waiting.limit(1)) is not None


def _withdraw(deps: DiscountDeps, session: Session, row: UpstreamBatch) -> None:
    """Its lines were cancelled before it went out: it is never sent."""
    row.status = WITHDRAWN
    row.results_stored_at = datetime.now(UTC)
    release_reservation(deps.redis, session, row, actual_usd=Decimal(0))
    logger.info("upstream batch %s: its lines were cancelled; not sent", row.id)


def _apply(row: UpstreamBatch, answer: dict[str, Any]) -> None:
    row.upstream_id = str(answer["id"])
    row.status = str(answer.get("status") or "validating")
    row.next_poll_at = datetime.now(UTC)
    row.error = None


def _record_answer(session: Session, row_id: UUID, answer: dict[str, Any]) -> None:
    row = session.get(UpstreamBatch, row_id)
    if row is not None:
        _apply(row, answer)


def _record_failed_send(deps: DiscountDeps, row_id: UUID, error: UpstreamError) -> None:
    """A lost answer or an outage: reconciled and retried on a later pass. A
    refusal: the lines run on the realtime lane instead."""
    if error.is_retryable:
        logger.warning("upstream batch %s: %s; reconciling later", row_id, error.code)
        with deps.sessions.begin() as session:
            row = session.get(UpstreamBatch, row_id)
            if row is not None:
                row.error = _error_text(error)
        return
    with deps.sessions.begin() as session:
        row = session.get(UpstreamBatch, row_id)
        if row is None:
            return
        row.status = REFUSED
        row.error = _error_text(error)
        row.results_stored_at = datetime.now(UTC)
        release_reservation(deps.redis, session, row, actual_usd=Decimal(0))
        moved = periodic_transitions.move_discount_jobs_to_realtime(session, row_id)
    logger.warning("upstream batch %s refused (%s): realtime", row_id, error.code)
    for job_id, slug in moved:
        deps.sender.send(job_id, tenant_queue(slug))


def _error_text(error: UpstreamError) -> str:
    return f"{error.code}: {error.message}"[:2000]
