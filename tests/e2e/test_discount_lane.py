"""The discount lane end to end: a 200-line batch over two models, lane `auto`,
runs through the simulator's Batch API; every line succeeds on the discount lane,
the batch's webhook arrives signed, the ledger equals what the simulator billed
exactly, and it costs about half of the same prompts on the realtime lane."""

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from tests.e2e.conftest import SIMULATOR_KEY, Client, Stack
from tests.e2e.test_batches_webhooks import (
    assert_signed,
    batch_when_ended,
    event_of,
    eventually,
)
from tests.factories import make_messages
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.timeout(180)

LINES = 200
MODELS = ("openai/gpt-4o-mini", "anthropic/claude-3.5-haiku")


def _requests() -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"line-{n}",
            "body": {
                "model": MODELS[n % 2],
                "messages": make_messages(f"Summarise item {n} in a sentence."),
                "max_tokens": 64,
            },
        }
        for n in range(LINES)
    ]


def _billed_usd(stack: Stack) -> Decimal:
    answer = httpx.get(
        f"{stack.simulator_url}/api/v1/credits",
        headers={"Authorization": f"Bearer {SIMULATOR_KEY}"},
        timeout=5,
    )
    answer.raise_for_status()
    return Decimal(str(answer.json()["data"]["total_usage"]))


def _ledger(engine: Engine, batch_id: str) -> tuple[Decimal, dict[str, int]]:
    """The batch's attempts' cost, and its attempts per lane."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT a.lane, count(*), coalesce(sum(a.cost_usd), 0) FROM attempts a"
                " JOIN jobs j ON j.id = a.job_id WHERE j.batch_id = :id GROUP BY a.lane"
            ),
            {"id": batch_id},
        ).all()
    return sum((Decimal(r[2]) for r in rows), Decimal(0)), {r[0]: r[1] for r in rows}


def _batch_endpoints(engine: Engine) -> int | None:
    """How many `:batch` models the catalog lists, once beat has synced it."""
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT count(*) FROM models WHERE is_listed AND id LIKE :variants"),
            {"variants": "%:batch"},
        ).scalar_one()
    return int(found) or None


def _run(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.http.post("/v1/batches", json=body)
    assert response.status_code == 201, response.text
    batch_id = response.json()["id"]
    return eventually(
        lambda: batch_when_ended(client, batch_id), timeout_s=120, what="batch end"
    )


def test_a_day_long_batch_runs_on_the_discount_lane_at_half_price_exactly_billed(
    stack: Stack, tenant_client: Client, receiver: Receiver, engine: Engine
) -> None:
    eventually(lambda: _batch_endpoints(engine), timeout_s=30, what="catalog sync")
    billed_before = _billed_usd(stack)

    view = _run(
        tenant_client,
        {
            "requests": _requests(),
            "completion_window": "24h",
            "lane": "auto",
            "webhook_url": receiver.url,
        },
    )
    billed = _billed_usd(stack) - billed_before

    assert view["status"] == "completed"
    assert view["request_counts"]["succeeded"] == LINES
    ledger, lanes = _ledger(engine, view["id"])
    assert lanes == {"discount": LINES}
    assert ledger == billed  # exact: the ledger is what the simulator billed
    detail = tenant_client.http.get(f"/v1/batches/{view['id']}").json()
    upstream = detail["upstream_batches"]
    assert sorted(u["model"] for u in upstream) == sorted(MODELS)
    assert all(u["status"] == "completed" for u in upstream)
    assert sum(Decimal(str(u["cost_usd"])) for u in upstream) == ledger
    submissions = httpx.get(
        f"{stack.simulator_url}/_sim/batches/submissions", timeout=5
    ).json()
    assert submissions["duplicates"] == {}  # no line was sent upstream twice
    event = eventually(
        lambda: event_of(receiver, "batch.completed", view["id"]),
        timeout_s=30,
        what="batch.completed webhook",
    )
    assert_signed(engine, tenant_client, event)

    realtime = _run(tenant_client, {"requests": _requests(), "lane": "realtime"})
    realtime_ledger, realtime_lanes = _ledger(engine, realtime["id"])

    assert realtime_lanes == {"realtime": LINES}
    assert Decimal("0.45") <= ledger / realtime_ledger <= Decimal("0.55")
