"""The ledger against the bill, for one scenario's tenant: what helixq's attempts
cost per model beside what the simulator billed for the tenant's jobs, before and
after the cost reconciler ran (workers.maintenance.cost_reconciliation, run here
in-process until no generation is left to look up, then the check against the
account's activity for today)."""

import time
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal

import httpx
import psycopg
from pydantic import SecretStr
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from bench.chaos.stack import API_KEY, Stack
from shared.db.session import psycopg_url
from workers.maintenance.cost_reconciliation import (
    DEFAULT_KEY_LABEL,
    ReconcilerConfig,
    UpstreamKey,
    reconcile_costs,
)

TOLERANCE_USD = Decimal("1e-9")
RECONCILE_DEADLINE_S = 90
# Looks on the simulator's 404 window (HELIXQ_SIM_GENERATION_DELAY_MS): first
# after half a second, doubling; given up after 8 (over a minute).
CONFIG = {"first_check_s": 0.5, "max_check_s": 16.0, "tries": 8, "batch": 5000}

_TENANT_ATTEMPTS = """
SELECT a.model, coalesce(sum(a.cost_usd), 0), count(*) FILTER (
           WHERE a.cost_usd IS NULL AND a.cost_note IS NULL),
       count(*) FILTER (WHERE a.cost_source IN ('estimated', 'unknown')),
       count(*) FILTER (WHERE a.cost_source = 'attributed')
FROM attempts a JOIN jobs j ON j.id = a.job_id JOIN tenants t ON t.id = j.tenant_id
WHERE t.slug = %s GROUP BY a.model
"""
_DUE = """
SELECT count(*) FROM attempts a JOIN jobs j ON j.id = a.job_id
JOIN tenants t ON t.id = j.tenant_id
WHERE t.slug = %s AND a.cost_source IN ('estimated', 'unknown')
  AND a.generation_id IS NOT NULL AND a.cost_checks < %s
"""
_JOBS = """
SELECT j.id::text FROM jobs j JOIN tenants t ON t.id = j.tenant_id WHERE t.slug = %s
"""


@dataclass(frozen=True)
class LedgerCheck:
    billed_usd: Decimal  # the simulator's charges for the tenant's jobs
    before_usd: Decimal  # the ledger once every job was terminal
    after_usd: Decimal  # after reconciliation
    worst_model_gap_usd: Decimal  # the largest |ledger - billed| of a model, after
    open_costs: int  # attempts still estimated or unknown
    attributed: int  # attempts priced by the account's activity
    silent: int  # attempts without a cost and without a reason (must be 0)

    @property
    def ok(self) -> bool:
        return self.worst_model_gap_usd <= TOLERANCE_USD and self.silent == 0


def check_ledger(stack: Stack, slug: str) -> LedgerCheck:
    before = _ledger(stack, slug)
    engine = create_engine(psycopg_url(stack.database_url), pool_size=1)
    sessions = sessionmaker(engine)
    config = ReconcilerConfig(base_url=f"{stack.sim_url}/api/v1", **CONFIG)
    key = UpstreamKey(DEFAULT_KEY_LABEL, SecretStr(API_KEY))
    try:
        with httpx.Client(timeout=10) as http:
            deadline = time.monotonic() + RECONCILE_DEADLINE_S
            while time.monotonic() < deadline:
                reconcile_costs(sessions, http, config, lambda _tenant: key)
                if _count(stack, _DUE, slug, config.tries) == 0:
                    break
                time.sleep(config.first_check_s)
            closing = replace(
                config,
                activity_days=0,
                activity_today=True,
                management_key=SecretStr(API_KEY),
            )
            reconcile_costs(sessions, http, closing, lambda _tenant: key)
    finally:
        engine.dispose()
    after = _ledger(stack, slug)
    billed = _billed(stack, slug)
    models = set(after) | set(billed)
    return LedgerCheck(
        billed_usd=sum(billed.values(), Decimal(0)),
        before_usd=sum((row[0] for row in before.values()), Decimal(0)),
        after_usd=sum((row[0] for row in after.values()), Decimal(0)),
        worst_model_gap_usd=max(
            (
                abs(after.get(m, (Decimal(0),))[0] - billed.get(m, Decimal(0)))
                for m in models
            ),
            default=Decimal(0),
        ),
        open_costs=sum(row[2] for row in after.values()),
        attributed=sum(row[3] for row in after.values()),
        silent=sum(row[1] for row in after.values()),
    )


def _ledger(stack: Stack, slug: str) -> dict[str, tuple[Decimal, int, int, int]]:
    """Model → (cost, silent, open, attributed) of the tenant's attempts."""
    with psycopg.connect(stack.database_url) as connection:
        rows = connection.execute(_TENANT_ATTEMPTS, (slug,)).fetchall()
    return {
        model: (Decimal(cost), silent, still_open, attributed)
        for model, cost, silent, still_open, attributed in rows
    }


def _billed(stack: Stack, slug: str) -> dict[str, Decimal]:
    """Model → what the simulator charged for the tenant's jobs."""
    with psycopg.connect(stack.database_url) as connection:
        jobs = {row[0] for row in connection.execute(_JOBS, (slug,)).fetchall()}
    calls = httpx.get(f"{stack.sim_url}/_sim/calls", params={"detail": "1"}, timeout=60)
    billed: dict[str, Decimal] = defaultdict(Decimal)
    for call in calls.json()["calls"]:
        if call["job_id"] in jobs and call["cost_usd"] is not None:
            billed[call["model"]] += Decimal(call["cost_usd"])
    return dict(billed)


def _count(stack: Stack, sql: str, *params: object) -> int:
    with psycopg.connect(stack.database_url) as connection:
        row = connection.execute(sql, params).fetchone()
    return int(row[0]) if row else 0
