"""Budget alerts: each threshold a tenant reaches fires one signed-webhook event,
one metric count and one dashboard row per period, however often the sweep runs."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text

from shared import budget
from shared.budget_periods import BudgetPeriod, period_of
from shared.metrics import Counter, counter_field
from shared.redis_keys import monitoring_counters, tenant_budget
from tests.integration.workers.conftest import insert_attempt
from workers.maintenance.budget_alerts import check_budget_alerts

pytestmark = pytest.mark.timeout(30)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
HOOK = "https://hooks.example.com/budget"


def _budget(engine: Engine, tenant: dict[str, Any], **limits: Any) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE tenants SET limits = CAST(:limits AS jsonb), webhook_url = :url"
                " WHERE id = :id"
            ),
            {"limits": json.dumps(limits), "url": HOOK, "id": tenant["id"]},
        )


def _ledger(redis_client, slug: str, period: str, spent_usd: str) -> None:
    redis_client.hset(
        tenant_budget(slug, period),
        mapping={"spent": budget.to_nano(Decimal(spent_usd)), "seeded": 1},
    )


def _events(engine: Engine, tenant: dict[str, Any]) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT payload, url FROM webhook_deliveries WHERE tenant_id = :id"
                " AND event_type = 'budget.threshold_reached' ORDER BY created_at"
            ),
            {"id": tenant["id"]},
        ).all()
    assert all(url == HOOK for _, url in rows)
    return [payload for payload, _ in rows]


def test_each_threshold_fires_once_per_period(
    worker_process, engine, tenant, redis_client, deliveries
) -> None:
    _budget(engine, tenant, monthly_budget_usd="10", budget_period="day")
    day = period_of(NOW, BudgetPeriod.DAY)
    assert day == "2026-12-06"
    _ledger(redis_client, tenant["slug"], day, "6")

    def sweep(now: datetime = NOW) -> list[Any]:
        return check_budget_alerts(
            worker_process.sessions, redis_client, deliveries, now=now
        )

    assert [a.threshold_pct for a in sweep()] == [50]
    assert sweep() == []  # once per period
    _ledger(redis_client, tenant["slug"], day, "10.5")
    assert [a.threshold_pct for a in sweep()] == [80, 100]
    assert sweep() == []
    events = _events(engine, tenant)
    assert [e["data"]["threshold_percent"] for e in events] == [50, 80, 100]
    first = events[0]
    assert first["type"] == "budget.threshold_reached"
    assert first["data"]["period"] == day
    assert first["data"]["budget_usd"] == "10"
    assert Decimal(first["data"]["spent_usd"]) == Decimal(6)
    assert len(deliveries.sent) == 3  # sent after the commit
    counted = redis_client.hget(
        monitoring_counters(),
        counter_field(Counter.BUDGET_ALERTS, tenant["slug"], "100"),
    )
    assert int(counted) == 1
    # The next day is a new period: its spend comes from Postgres (no ledger yet).
    tomorrow = NOW + timedelta(days=1)
    with engine.begin() as connection:
        job_id = connection.execute(
            text(
                "INSERT INTO jobs (id, tenant_id, status, request) VALUES"
                " (gen_random_uuid(), :id, 'succeeded', '{}') RETURNING id"
            ),
            {"id": tenant["id"]},
        ).scalar_one()
    insert_attempt(engine, job_id, cost_usd=Decimal("8.5"), started_at=tomorrow)
    assert [a.threshold_pct for a in sweep(tomorrow)] == [50, 80]


def test_thresholds_are_settable_and_weeks_are_periods(
    worker_process, engine, tenant, redis_client, deliveries
) -> None:
    _budget(
        engine,
        tenant,
        monthly_budget_usd="100",
        budget_period="week",
        budget_alerts=[25, 90],
    )
    week = period_of(NOW, BudgetPeriod.WEEK)
    assert week == "2026-W49"
    _ledger(redis_client, tenant["slug"], week, "30")
    fired = check_budget_alerts(
        worker_process.sessions, redis_client, deliveries, now=NOW
    )
    assert [a.threshold_pct for a in fired] == [25]


def test_tenants_without_a_budget_or_with_a_zero_one_fire_nothing(
    worker_process, engine, make_tenant, redis_client, deliveries
) -> None:
    zero = make_tenant()
    _budget(engine, zero, monthly_budget_usd="0")
    none = make_tenant()
    _budget(engine, none, max_queued=5)
    fired = check_budget_alerts(
        worker_process.sessions, redis_client, deliveries, now=NOW
    )
    assert {a.tenant for a in fired} & {zero["slug"], none["slug"]} == set()
