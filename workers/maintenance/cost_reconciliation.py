"""The cost reconciler: the periodic `reconcile_costs` task (docs/ledger.md).

Two passes, each in short transactions, none held across a call to OpenRouter:

1. Per call. An attempt whose cost is estimated or unknown and whose generation id
   is known is looked up with `GET /generation?id=` and gets OpenRouter's figure,
   marked `reconciled`. OpenRouter answers 404 for a while after a call, so each
   attempt is looked up on its own backoff (`cost_checks`, `cost_check_at`) and
   given up after HELIXQ_COST_CHECK_TRIES looks, its estimate kept with a note.
2. Per model and UTC day. OpenRouter's spend per model (`GET /activity`, a
   management key only) is compared with the ledger's; the difference is
   recorded in `cost_differences` and attributed to the attempts it can belong
   to (those still estimated or unknown with no generation id to look up) in
   proportion to their estimates, marked `attributed`. What the account billed
   that the ledger has no attempt for stays in the table, unattributed.

A job's cost is the sum of its attempts': it is summed again for the jobs whose
attempts changed.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.cost import apportion_usd
from shared.openrouter_key_store import tenant_openrouter_key
from shared.sealing import SecretBox, Unreadable
from shared.upstream_keys import key_label
from workers.openrouter.accounting import (
    AccountError,
    GenerationFigures,
    activity,
    generation,
)
from workers.runtime.settings import WorkerSettings

logger = logging.getLogger(__name__)

DEFAULT_KEY_LABEL = "default"  # the workers' OPENROUTER_API_KEY
GAVE_UP_NOTE = (
    "OpenRouter's GET /generation did not know this generation id after {tries}"
    " looks: the estimate stays until the check against the account's activity"
    " attributes a difference to it"
)
ATTRIBUTED_NOTE = (
    "a share of the difference between OpenRouter's activity for {model} on {day}"
    " and the ledger's per-call figures, split by the estimates of the calls it"
    " could belong to"
)


@dataclass(frozen=True, slots=True)
class UpstreamKey:
    """A key calls were made with, and the name the ledger gives it."""

    label: str
    key: SecretStr


# Which key a tenant's calls were made with; None: not known, not looked up.
KeyFor = Callable[[UUID], UpstreamKey | None]


@dataclass(frozen=True, slots=True)
class ReconcilerConfig:
    base_url: str
    first_check_s: float = 2.0
    max_check_s: float = 600.0
    tries: int = 12
    batch: int = 200
    activity_days: int = 2
    activity_today: bool = False
    management_key: SecretStr | None = None

    def check_delay_s(self, checks: int) -> float:
        """How long after its `checks`-th look an attempt is looked up again."""
        return float(
            min(self.first_check_s * 2 ** max(checks - 1, 0), self.max_check_s)
        )


@dataclass
class ReconcileReport:
    """What one run did."""

    reconciled: int = 0
    not_yet: int = 0  # 404: looked up again later
    gave_up: int = 0
    attributed: int = 0  # attempts given a share of a difference
    days_checked: list[date] = field(default_factory=list)
    skipped: str | None = None  # why the check against the account did not run


def reconcile_costs(
    sessions: sessionmaker[Session],
    http: httpx.Client,
    config: ReconcilerConfig,
    key_for: KeyFor,
    *,
    today: date | None = None,
) -> ReconcileReport:
    """One run of both passes."""
    report = ReconcileReport()
    price_by_generation(sessions, http, config, key_for, report)
    check_activity(sessions, http, config, report, today=today)
    return report


_DUE = text("""
SELECT attempts.id, attempts.job_id, attempts.generation_id, attempts.cost_checks,
    jobs.tenant_id
FROM attempts JOIN jobs ON jobs.id = attempts.job_id
WHERE attempts.cost_source IN ('estimated', 'unknown')
  AND attempts.generation_id IS NOT NULL AND attempts.outcome <> 'started'
  AND attempts.cost_checks < :tries
  AND (attempts.cost_check_at IS NULL OR attempts.cost_check_at <= now())
ORDER BY attempts.cost_check_at NULLS FIRST
LIMIT :batch
""")

# Guarded by the source: a cost reported meanwhile is never overwritten.
_RECONCILED = text("""
UPDATE attempts SET cost_usd = :cost_usd, cost_source = 'reconciled',
    cost_note = NULL, prompt_tokens = coalesce(:prompt_tokens, prompt_tokens),
    completion_tokens = coalesce(:completion_tokens, completion_tokens),
    cached_tokens = coalesce(:cached_tokens, cached_tokens),
    reasoning_tokens = coalesce(:reasoning_tokens, reasoning_tokens),
    is_byok = coalesce(:is_byok, is_byok),
    upstream_inference_cost = coalesce(:upstream_inference_cost,
                                       upstream_inference_cost),
    provider = coalesce(provider, :provider),
    cost_checks = cost_checks + 1, cost_check_at = now()
WHERE id = :id AND cost_source IN ('estimated', 'unknown')
""")

_NOT_YET = text("""
UPDATE attempts SET cost_checks = cost_checks + 1,
    cost_check_at = now() + make_interval(secs => :delay_s),
    cost_note = coalesce(:note, cost_note)
WHERE id = :id AND cost_source IN ('estimated', 'unknown')
""")

# A finished job's cost is its attempts' sum; an unfinished one's is summed at its end.
_JOB_COSTS = text("""
UPDATE jobs SET cost_usd = (SELECT sum(cost_usd) FROM attempts
                            WHERE attempts.job_id = jobs.id)
WHERE id = ANY(:job_ids) AND status IN ('succeeded', 'failed', 'cancelled')
""")


def price_by_generation(
    sessions: sessionmaker[Session],
    http: httpx.Client,
    config: ReconcilerConfig,
    key_for: KeyFor,
    report: ReconcileReport,
) -> None:
    """Look up the due attempts' generations; a key OpenRouter refuses or an
    OpenRouter that does not answer ends the pass for that key until next run."""
    with sessions() as session:
        due = session.execute(
            _DUE, {"tries": config.tries, "batch": config.batch}
        ).all()
    refused: set[str] = set()
    for row in due:
        upstream = key_for(row.tenant_id)
        if upstream is None or upstream.label in refused:
            continue
        try:
            figures = generation(http, config.base_url, upstream.key, row.generation_id)
        except AccountError as error:
            logger.warning(
                "cost reconciler: GET /generation with key %s: %s",
                upstream.label,
                error,
            )
            refused.add(upstream.label)
            continue
        with sessions.begin() as session:
            if figures is None:
                _not_yet(session, row, config, report)
            else:
                session.execute(_RECONCILED, _reconciled_params(row.id, figures))
                session.execute(_JOB_COSTS, {"job_ids": [row.job_id]})
                report.reconciled += 1


def _not_yet(
    session: Session, row: Any, config: ReconcilerConfig, report: ReconcileReport
) -> None:
    checks = row.cost_checks + 1
    gave_up = checks >= config.tries
    note = GAVE_UP_NOTE.format(tries=checks) if gave_up else None
    params = {"id": row.id, "delay_s": config.check_delay_s(checks), "note": note}
    session.execute(_NOT_YET, params)
    if gave_up:
        report.gave_up += 1
    else:
        report.not_yet += 1


def _reconciled_params(attempt_id: UUID, figures: GenerationFigures) -> dict[str, Any]:
    details = figures.details
    return {
        "id": attempt_id,
        "cost_usd": figures.cost_usd,
        "prompt_tokens": figures.prompt_tokens,
        "completion_tokens": figures.completion_tokens,
        "cached_tokens": details.cached_tokens,
        "reasoning_tokens": details.reasoning_tokens,
        "is_byok": details.is_byok,
        "upstream_inference_cost": details.upstream_inference_cost,
        "provider": figures.provider,
    }


# The ledger's figures for one UTC day, per model.
_LEDGER_DAY = text("""
SELECT model, coalesce(sum(cost_usd), 0) AS cost_usd, count(*) AS requests
FROM attempts
WHERE started_at >= :start AND started_at < :end AND outcome <> 'started'
  AND cost_source IS DISTINCT FROM 'unbilled'
GROUP BY model
""")

# The calls a difference can belong to: those OpenRouter cannot price call by call
# (no generation id, or its lookups given up). One that was attributed a share
# before keeps it: a later difference goes to the calls still open.
_OPEN_ATTEMPTS = text("""
SELECT id, job_id, coalesce(cost_usd, 0) AS cost_usd FROM attempts
WHERE started_at >= :start AND started_at < :end AND model = :model
  AND outcome <> 'started' AND cost_source IN ('estimated', 'unknown')
  AND (generation_id IS NULL OR cost_checks >= :tries)
ORDER BY id
FOR UPDATE
""")

# One settlement of a day at a time: a second one reads the ledger the first left.
_ONE_AT_A_TIME = text("SELECT pg_advisory_xact_lock(hashtext('helixq.cost_days'))")

_ATTRIBUTED = text("""
UPDATE attempts SET cost_usd = :cost_usd, cost_source = 'attributed',
    cost_note = :note
WHERE id = :id
""")

_RECORD_DIFFERENCE = text("""
INSERT INTO cost_differences (day, model, upstream_key, upstream_usd, ledger_usd,
    difference_usd, attributed_usd, attributed_attempts, upstream_requests,
    ledger_requests, checked_at)
VALUES (:day, :model, :upstream_key, :upstream_usd, :ledger_usd, :difference_usd,
    :attributed_usd, :attributed_attempts, :upstream_requests, :ledger_requests,
    now())
ON CONFLICT (day, model, upstream_key) DO UPDATE SET
    upstream_usd = excluded.upstream_usd, ledger_usd = excluded.ledger_usd,
    difference_usd = excluded.difference_usd,
    attributed_usd = excluded.attributed_usd,
    attributed_attempts = excluded.attributed_attempts,
    upstream_requests = excluded.upstream_requests,
    ledger_requests = excluded.ledger_requests, checked_at = now()
""")


def check_activity(
    sessions: sessionmaker[Session],
    http: httpx.Client,
    config: ReconcilerConfig,
    report: ReconcileReport,
    *,
    today: date | None = None,
) -> None:
    """Compare the account's spend per model with the ledger's, for the last
    completed days (and today so far, if configured)."""
    if config.management_key is None:
        report.skipped = "no OPENROUTER_MANAGEMENT_KEY: GET /activity needs one"
        return
    today = today or datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in range(config.activity_days, 0, -1)]
    if config.activity_today:
        days.append(today)
    for day in days:
        try:
            upstream = activity(http, config.base_url, config.management_key, day)
        except AccountError as error:
            report.skipped = f"GET /activity for {day}: {error}"
            logger.warning("cost reconciler: %s", report.skipped)
            return
        with sessions.begin() as session:
            session.execute(_ONE_AT_A_TIME)
            report.attributed += _settle_day(session, day, upstream, config.tries)
        report.days_checked.append(day)


def _settle_day(
    session: Session, day: date, upstream: dict[str, Any], tries: int
) -> int:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    bounds = {"start": start, "end": start + timedelta(days=1)}
    ledger = {row.model: row for row in session.execute(_LEDGER_DAY, bounds)}
    attributed = 0
    for model in sorted(set(ledger) | set(upstream)):
        billed = upstream.get(model)
        upstream_usd = billed.usage_usd if billed is not None else Decimal(0)
        ours = ledger.get(model)
        ledger_usd = Decimal(ours.cost_usd) if ours is not None else Decimal(0)
        difference = upstream_usd - ledger_usd
        shares = (
            _attribute(session, day, model, difference, {**bounds, "tries": tries})
            if difference
            else []
        )
        attributed += len(shares)
        session.execute(
            _RECORD_DIFFERENCE,
            {
                "day": day,
                "model": model,
                "upstream_key": DEFAULT_KEY_LABEL,
                "upstream_usd": upstream_usd,
                "ledger_usd": ledger_usd,
                "difference_usd": difference,
                "attributed_usd": difference if shares else Decimal(0),
                "attributed_attempts": len(shares),
                "upstream_requests": None if billed is None else billed.requests,
                "ledger_requests": 0 if ours is None else ours.requests,
            },
        )
    return attributed


def _attribute(
    session: Session,
    day: date,
    model: str,
    difference: Decimal,
    bounds: dict[str, Any],
) -> Sequence[UUID]:
    """Spread `difference` over the day's open attempts of `model`, in proportion
    to their estimates; none when there is none, or when it would price them
    below zero (then the difference stays unattributed)."""
    rows = session.execute(_OPEN_ATTEMPTS, {**bounds, "model": model}).all()
    estimates = [Decimal(row.cost_usd) for row in rows]
    target = sum(estimates, Decimal(0)) + difference
    if not rows or target < 0:
        return []
    note = ATTRIBUTED_NOTE.format(model=model, day=day.isoformat())
    weights = _weights(estimates)
    for row, share in zip(rows, apportion_usd(target, weights), strict=True):
        session.execute(_ATTRIBUTED, {"id": row.id, "cost_usd": share, "note": note})
    session.execute(_JOB_COSTS, {"job_ids": list({row.job_id for row in rows})})
    return [row.id for row in rows]


def _weights(estimates: list[Decimal]) -> list[Decimal]:
    """Each call's part of a day's difference: its estimate; a call with none (a
    model the catalog could not price) counts as the average estimate, so that it
    takes its part rather than nothing."""
    priced = [estimate for estimate in estimates if estimate > 0]
    usual = sum(priced, Decimal(0)) / len(priced) if priced else Decimal(1)
    return [estimate if estimate > 0 else usual for estimate in estimates]


def config_from(settings: WorkerSettings) -> ReconcilerConfig:
    """The reconciler's configuration from WorkerSettings."""
    return ReconcilerConfig(
        base_url=settings.openrouter_base_url,
        first_check_s=settings.helixq_cost_check_first_s,
        max_check_s=settings.helixq_cost_check_max_s,
        tries=settings.helixq_cost_check_tries,
        batch=settings.helixq_cost_reconcile_batch,
        activity_days=settings.helixq_cost_activity_days,
        activity_today=settings.helixq_cost_activity_today,
        management_key=settings.openrouter_management_key,
    )


def workers_key(settings: WorkerSettings) -> KeyFor:
    """Every tenant's calls made with the workers' OPENROUTER_API_KEY."""
    key = settings.openrouter_api_key
    upstream = None if key is None else UpstreamKey(DEFAULT_KEY_LABEL, key)
    return lambda _tenant_id: upstream


def tenants_keys(settings: WorkerSettings, sessions: sessionmaker[Session]) -> KeyFor:
    """Each tenant's calls made with its own OpenRouter key, else with the workers'
    OPENROUTER_API_KEY: a generation is looked up on the account that paid for it.
    A tenant's key that HELIXQ_SECRET_KEY cannot open is not looked up (its calls
    keep their estimates); each tenant's key is read once a pass."""
    default = workers_key(settings)
    box = settings.box()
    known: dict[UUID, UpstreamKey | None] = {}

    def key_for(tenant_id: UUID) -> UpstreamKey | None:
        if tenant_id not in known:
            known[tenant_id] = _key_of(sessions, tenant_id, box, default)
        return known[tenant_id]

    return key_for


def _key_of(
    sessions: sessionmaker[Session],
    tenant_id: UUID,
    box: SecretBox | None,
    default: KeyFor,
) -> UpstreamKey | None:
    """The key the tenant's calls were made with: its own, else the workers';
    None when its own cannot be opened."""
    try:
        with sessions() as session:
            key = tenant_openrouter_key(session, tenant_id, box)
    except Unreadable:
        logger.warning(
            "cost reconciler: the OpenRouter key of tenant %s cannot be opened",
            tenant_id,
        )
        return None
    if key is None:
        return default(tenant_id)
    return UpstreamKey(key_label(key), SecretStr(key))
