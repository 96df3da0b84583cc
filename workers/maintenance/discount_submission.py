"""Send discount-lane lines to OpenRouter's Batch API, without paying twice.

Each pass of the `submit_discount_lines` sweep (celery beat):

1. **Group.** Lines waiting for an upstream batch are routed (the model the line
   names, else the tenant's default) and grouped per helixq batch and model into
   upstream batches within OpenRouter's limits (HELIXQ_DISCOUNT_MAX_REQUESTS,
   HELIXQ_DISCOUNT_MAX_BYTES). Each group's `upstream_batches` row (`submitting`)
   and its jobs' link to it commit before anything is sent.
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

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import SecretStr
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from shared.db.models import Job, Tenant
from shared.db.upstream_batches import UpstreamBatch
from shared.lanes import BATCH_VARIANT_SUFFIX, line_model
from shared.model_ids import upstream_model_id
from shared.openrouter_key_store import open_openrouter_key
from shared.queues import tenant_queue
from shared.sealing import SecretBox, Unreadable
from workers.jobs import periodic_transitions
from workers.openrouter.batches import BatchApi, create_body
from workers.openrouter.errors import UpstreamError, UpstreamRejected
from workers.runtime.job_sender import JobSender

logger = logging.getLogger(__name__)

SUBMITTING = "submitting"
REFUSED = "refused"  # OpenRouter refused the POST: its lines ran realtime
WAITING_LIMIT = 50_000
# Room for a line's JSON around its body in the create request.
LINE_OVERHEAD_BYTES = 64
# OpenRouter's clock and ours may differ: look a little before the send.
CLOCK_SLACK_S = 120

_WAITING = text("""
SELECT jobs.id, jobs.batch_id, jobs.tenant_id, jobs.request, tenants.default_model
FROM jobs JOIN tenants ON tenants.id = jobs.tenant_id
WHERE jobs.lane = 'discount' AND jobs.status = 'queued' AND jobs.batch_id IS NOT NULL
  AND jobs.upstream_batch_id IS NULL
ORDER BY jobs.batch_id, jobs.created_at, jobs.id
LIMIT :limit
FOR UPDATE OF jobs SKIP LOCKED
""")


@dataclass(frozen=True)
class DiscountConfig:
    max_requests: int
    max_bytes: int
    reconcile_after_s: float
    batch_slug: bool = False
    callback_url: str | None = None


@dataclass
class _Group:
    batch_id: UUID
    tenant_id: UUID
    model: str
    job_ids: list[UUID]
    body_bytes: int = 0


def upstream_model(model: str, *, batch_slug: bool) -> str:
    base = upstream_model_id(model).removesuffix(BATCH_VARIANT_SUFFIX)
    return base + BATCH_VARIANT_SUFFIX if batch_slug else base


def line_body(request: dict[str, Any]) -> dict[str, Any]:
    """A job's request as a batch line's body: the batch names the model."""
    return {k: v for k, v in request.items() if k not in ("model", "models")}


def _groups(rows: Iterable[Any], config: DiscountConfig) -> list[_Group]:
    groups: list[_Group] = []
    open_groups: dict[tuple[UUID, str], _Group] = {}
    for row in rows:
        named = line_model(row.request, row.default_model)
        if named is None:
            continue  # the API refuses such lines; nothing to send
        model = upstream_model(named, batch_slug=config.batch_slug)
        size = len(json.dumps(line_body(row.request))) + LINE_OVERHEAD_BYTES
        group = open_groups.get((row.batch_id, model))
        full = group is not None and (
            len(group.job_ids) >= config.max_requests
            or group.body_bytes + size > config.max_bytes
        )
        if group is None or full:
            group = _Group(row.batch_id, row.tenant_id, model, [])
            open_groups[(row.batch_id, model)] = group
            groups.append(group)
        group.job_ids.append(row.id)
        group.body_bytes += size
    return groups


def group_waiting_lines(session: Session, config: DiscountConfig) -> int:
    """Write an upstream batch row per group of waiting lines and link its jobs;
    how many rows were written."""
    rows = session.execute(_WAITING, {"limit": WAITING_LIMIT}).all()
    groups = _groups(rows, config)
    for group in groups:
        upstream = UpstreamBatch(
            batch_id=group.batch_id,
            tenant_id=group.tenant_id,
            model=group.model,
            status=SUBMITTING,
            request_count=len(group.job_ids),
            body_bytes=group.body_bytes,
        )
        session.add(upstream)
        session.flush()
        session.execute(
            update(Job)
            .where(Job.id.in_(group.job_ids))
            .values(upstream_batch_id=upstream.id)
        )
    return len(groups)


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


@dataclass(frozen=True)
class DiscountDeps:
    """What the discount lane's sweeps use: real transactions, the Batch API, the
    sender that publishes lines moved to the realtime lane, the settings."""

    sessions: sessionmaker[Session]
    api: BatchApi
    sender: JobSender
    config: DiscountConfig
    box: SecretBox | None = None  # opens tenants' own OpenRouter keys

    def api_of(self, session: Session, tenant_id: UUID) -> BatchApi:
        """The Batch API on the tenant's own OpenRouter key (the global key when
        it has none); UpstreamRejected when its key cannot be opened, so that its
        lines are never sent on another account's key."""
        sealed = session.scalar(
            select(Tenant.openrouter_key_sealed).where(Tenant.id == tenant_id)
        )
        if sealed is None:
            return self.api
        try:
            key = open_openrouter_key(sealed, self.box)
        except Unreadable as error:
            raise UpstreamRejected(
                f"the tenant's OpenRouter key cannot be opened: {error}"
            ) from None
        return self.api.on_key(SecretStr(key))


def submit_discount_lines(deps: DiscountDeps) -> int:
    """Group waiting lines, send new upstream batches and reconcile lost answers;
    how many upstream batches are now known upstream."""
    with deps.sessions.begin() as session:
        grouped = group_waiting_lines(session, deps.config)
        due = _due_submissions(session, now=datetime.now(UTC), config=deps.config)
    if grouped:
        logger.info("discount lane: %d upstream batches to send", grouped)
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
            if row.sent_at is not None:
                found = _reconcile(session, api, row)
                if found is not Reconciled.ABSENT:
                    return int(found is Reconciled.ADOPTED)
            body = _body(session, row, deps.config)
            row.sent_at = datetime.now(UTC)
            row.send_count += 1
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
        moved = periodic_transitions.move_discount_jobs_to_realtime(session, row_id)
    logger.warning("upstream batch %s refused (%s): realtime", row_id, error.code)
    for job_id, slug in moved:
        deps.sender.send(job_id, tenant_queue(slug))


def _error_text(error: UpstreamError) -> str:
    return f"{error.code}: {error.message}"[:2000]
