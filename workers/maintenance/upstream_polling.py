"""Follow the discount lane's upstream batches: the `follow_upstream_batches` sweep.

Each upstream batch is polled on a backoff schedule (HELIXQ_DISCOUNT_POLL_FIRST_S,
doubling up to HELIXQ_DISCOUNT_POLL_MAX_S). When it has completed, every result line
becomes an attempt on the discount lane (upstream batch id, generation id, usage,
cost) and a success ends its job exactly as a realtime answer would; the batch
sweep then ends the helixq batch, with its counts, results and webhook, as for any
batch. A failed line, and every line of an upstream batch that failed, expired or
was cancelled, runs on the realtime lane (workers.jobs.transitions); past the
batch's deadline the batch sweep expires it instead.

A 402 (credits short) keeps the results upstream: it is shown on the upstream batch
and polled again. The results are stored in one transaction under the row's lock,
only while not yet stored, so two sweeps never record a line twice.
"""

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.cost import apportion_usd, reported_cost_usd
from shared.db.models import CatalogModel
from shared.db.upstream_batches import UpstreamBatch
from shared.lanes import BATCH_VARIANT_SUFFIX
from shared.queues import tenant_queue
from workers.jobs import periodic_transitions
from workers.maintenance.discount_budget import release_reservation
from workers.maintenance.discount_lane import TERMINAL, DiscountDeps
from workers.openrouter.errors import UpstreamError, UpstreamPaymentRequired

logger = logging.getLogger(__name__)

POLL_LIMIT = 100
LINE_FAILED = "upstream_batch_line_failed"


@dataclass(frozen=True)
class PollSchedule:
    first_s: float
    max_s: float

    def delay_s(self, polls: int) -> float:
        return float(min(self.first_s * 2 ** min(polls, 30), self.max_s))


def follow_upstream_batches(deps: DiscountDeps, schedule: PollSchedule) -> int:
    """Poll the upstream batches that are due; how many ended (results stored)."""
    with deps.sessions.begin() as session:
        due = session.execute(
            select(
                UpstreamBatch.id, UpstreamBatch.upstream_id, UpstreamBatch.poll_count
            )
            .where(
                UpstreamBatch.upstream_id.is_not(None),
                UpstreamBatch.results_stored_at.is_(None),
                UpstreamBatch.next_poll_at <= datetime.now(UTC),
            )
            .order_by(UpstreamBatch.next_poll_at)
            .limit(POLL_LIMIT)
        ).all()
    return sum(_follow(deps, schedule, row.id, str(row.upstream_id)) for row in due)


def _follow(
    deps: DiscountDeps, schedule: PollSchedule, row_id: UUID, upstream_id: str
) -> int:
    # Network calls happen outside any transaction; the row is locked only to store.
    try:
        with deps.sessions() as session:
            tenant_id = session.scalar(
                select(UpstreamBatch.tenant_id).where(UpstreamBatch.id == row_id)
            )
            api = deps.api if tenant_id is None else deps.api_of(session, tenant_id)
        batch = api.get(upstream_id)
        status = str(batch.get("status"))
        lines = api.results(batch) if status == "completed" else []
    except UpstreamError as error:
        _wait(
            deps,
            schedule,
            row_id,
            error=f"{error.code}: {error.message}"[:2000],
            payment_required=isinstance(error, UpstreamPaymentRequired),
        )
        return 0
    if status not in TERMINAL:
        _wait(deps, schedule, row_id, status=status)
        return 0
    with deps.sessions.begin() as session:
        row = session.scalar(
            select(UpstreamBatch)
            .where(
                UpstreamBatch.id == row_id, UpstreamBatch.results_stored_at.is_(None)
            )
            .with_for_update(skip_locked=True)
        )
        if row is None:
            return 0
        _store(session, row, batch, lines)
        release_reservation(
            deps.redis, session, row, actual_usd=row.cost_usd or Decimal(0)
        )
        moved = periodic_transitions.move_discount_jobs_to_realtime(session, row_id)
    for job_id, slug in moved:  # after the commit; a lost send is re-sent by the sweep
        deps.sender.send(job_id, tenant_queue(slug))
    logger.info(
        "upstream batch %s: %s, %d lines to realtime", upstream_id, status, len(moved)
    )
    return 1


def _wait(
    deps: DiscountDeps,
    schedule: PollSchedule,
    row_id: UUID,
    *,
    status: str | None = None,
    error: str | None = None,
    payment_required: bool = False,
) -> None:
    with deps.sessions.begin() as session:
        row = session.get(UpstreamBatch, row_id)
        if row is None:
            return
        row.status = status or row.status
        row.error = error
        if not payment_required:
            row.payment_required_at = None
        elif row.payment_required_at is None:
            row.payment_required_at = datetime.now(UTC)
        row.poll_count += 1
        delay_s = schedule.delay_s(row.poll_count)
        row.next_poll_at = datetime.now(UTC) + timedelta(seconds=delay_s)


def _store(
    session: Session, row: UpstreamBatch, batch: dict[str, Any], lines: list[Any]
) -> None:
    usage = batch.get("usage") if isinstance(batch.get("usage"), dict) else None
    row.status = str(batch.get("status"))
    row.usage = usage
    row.cost_usd = reported_cost_usd(usage)
    row.error = _batch_error(batch)
    row.results_stored_at = datetime.now(UTC)
    row.payment_required_at = None
    successes = [line for line in lines if _response_body(line) is not None]
    costs = _line_costs(session, row, successes)
    started_at = row.sent_at or row.created_at
    for line in lines:
        body = _response_body(line)
        values = {
            "job_id": _job_id(line),
            "upstream_batch_id": row.id,
            "started_at": started_at,
            "latency_ms": _latency_ms(started_at),
            **(
                _success(row, body, costs.get(str(line.get("custom_id"))))
                if body
                else _failure(row, line)
            ),
        }
        if values["job_id"] is None:
            continue  # not a line helixq sent
        result = json.dumps(body) if body else None
        periodic_transitions.record_discount_result(session, values, result_json=result)


def _job_id(line: Any) -> UUID | None:
    try:
        return UUID(str(line.get("custom_id")))
    except ValueError:
        return None


def _response_body(line: Any) -> dict[str, Any] | None:
    response = line.get("response") if isinstance(line, dict) else None
    body = response.get("body") if isinstance(response, dict) else None
    return body if isinstance(body, dict) and not line.get("error") else None


def _usage(body: dict[str, Any]) -> dict[str, Any]:
    usage = body.get("usage")
    return usage if isinstance(usage, dict) else {}


def _success(
    row: UpstreamBatch, body: dict[str, Any], cost_usd: Decimal | None
) -> dict[str, Any]:
    usage = _usage(body)
    return {
        "model": str(body.get("model") or row.model),
        "provider": body.get("provider"),
        "generation_id": body.get("id"),
        "outcome": "succeeded",
        "http_status": 200,
        "error_code": None,
        "error_message": None,
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "cost_usd": cost_usd,
    }


def _failure(row: UpstreamBatch, line: Any) -> dict[str, Any]:
    error = line.get("error") if isinstance(line, dict) else None
    error = error if isinstance(error, dict) else {}
    return {
        "model": row.model,
        "provider": None,
        "generation_id": None,
        "outcome": "permanent",
        "http_status": None,
        "error_code": str(error.get("error_type") or LINE_FAILED)[:64],
        "error_message": str(error.get("message") or "the line failed upstream"),
        "prompt_tokens": None,
        "completion_tokens": None,
        "cost_usd": Decimal(0),  # failed lines are not billed
    }


def _line_costs(
    session: Session, row: UpstreamBatch, successes: list[Any]
) -> dict[str, Decimal | None]:
    """Each successful line's cost by custom_id: its own `usage.cost` where
    given; the rest of the batch's `usage.cost` apportioned over the others by
    the catalog's batch prices, so that the lines sum to the batch exactly."""
    usages = {
        str(line.get("custom_id")): _usage(_response_body(line) or {})
        for line in successes
    }
    costs = {cid: reported_cost_usd(usage) for cid, usage in usages.items()}
    unknown = [cid for cid, cost in costs.items() if cost is None]
    if not unknown or row.cost_usd is None:
        return costs
    known = sum((c for c in costs.values() if c is not None), Decimal(0))
    prices = _batch_prices(session, row.model)
    weights = [_weight(usages[cid], prices) for cid in unknown]
    shares = apportion_usd(row.cost_usd - known, weights)
    costs.update(zip(unknown, shares, strict=True))
    return costs


def _batch_prices(session: Session, model: str) -> tuple[Decimal, Decimal]:
    variant = model.removesuffix(BATCH_VARIANT_SUFFIX) + BATCH_VARIANT_SUFFIX
    found = session.get(CatalogModel, variant) or session.get(CatalogModel, model)
    if found is None:
        return Decimal(1), Decimal(1)  # no prices known: by tokens
    return found.prompt_price, found.completion_price


def _weight(usage: dict[str, Any], prices: tuple[Decimal, Decimal]) -> Decimal:
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    return max(prices[0], Decimal(0)) * prompt + max(prices[1], Decimal(0)) * completion


def _batch_error(batch: dict[str, Any]) -> str | None:
    error = batch.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return str(message)[:2000] if message else None


def _latency_ms(started_at: datetime) -> int:
    return round((datetime.now(UTC) - started_at).total_seconds() * 1000)
