"""Batch billing: batch prices into the ledger, 402 on GET, submissions counted."""

from decimal import Decimal

from simulator.catalog import Catalog
from simulator.settings import SimulatorSettings
from tests.unit.simulator.batch_harness import (
    MODEL,
    V1,
    advance,
    batch_body,
    call,
    control,
    created,
    line,
    slow_settings,
)
from tests.unit.simulator.harness import SimClient, chat, running


async def _total_usage(client: SimClient) -> float:
    _, credits = await call(client, "GET", "/api/v1/credits")
    usage: float = credits["data"]["total_usage"]
    return usage


async def test_completed_lines_are_billed_at_batch_prices(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        realtime = await (await client.complete(chat(MODEL, "Hello there"))).json()
        realtime_cost = Decimal(str(realtime["usage"]["cost"]))
        spent_before = client.state.ledger.total
        batch = await advance(client, await created(client, batch_body()))
        billed = client.state.ledger.total - spent_before
        total_usage = await _total_usage(client)
    line_costs = [
        Decimal(str(entry["response"]["body"]["usage"]["cost"]))
        for entry in batch["results"]
    ]
    assert line_costs == [realtime_cost / 2] * 2
    assert billed == sum(line_costs)
    assert Decimal(str(batch["usage"]["cost"])) == billed
    assert total_usage == float(client.state.ledger.total)


async def test_failed_lines_are_not_billed(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        await control(
            client,
            "/_sim/batches/script",
            {"model": MODEL, "batches": [{"failed_lines": 1}]},
        )
        batch = await advance(client, await created(client, batch_body()))
    [success] = [entry for entry in batch["results"] if entry["error"] is None]
    cost = Decimal(str(success["response"]["body"]["usage"]["cost"]))
    assert client.state.ledger.total == cost


async def test_get_answers_402_until_credits_cover_the_charge(
    settings: SimulatorSettings,
) -> None:
    short = slow_settings(settings, credits_usd=Decimal("0.000000001"))
    async with running(short) as client:
        batch_id = await created(client, batch_body())
        await advance(client, batch_id)
        locked, body = await call(client, "GET", f"{V1}/{batch_id}")
        paged, _ = await call(client, "GET", f"{V1}/{batch_id}/results")
        usage_while_locked = await _total_usage(client)
        topped, credits = await control(client, "/_sim/credits", {"usd": "10"})
        unlocked, batch = await call(client, "GET", f"{V1}/{batch_id}")
        usage_after = await _total_usage(client)
    assert (locked, paged) == (402, 402)
    assert body["id"] == batch_id
    assert body["status"] == "completed"
    assert body["results"] is None
    assert body["error"]["code"] == 402
    assert body["error"]["message"]
    assert usage_while_locked == 0
    assert topped == 200
    assert credits["data"]["total_credits"] == 10.000000001
    assert unlocked == 200
    assert len(batch["results"]) == 2
    assert usage_after == batch["usage"]["cost"] > 0


async def test_a_batch_is_billed_once_however_often_it_is_read(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body())
        await advance(client, batch_id)
        for _ in range(3):
            await call(client, "GET", f"{V1}/{batch_id}")
            await call(client, "GET", f"{V1}/{batch_id}/results")
        _, batch = await call(client, "GET", f"{V1}/{batch_id}")
    assert client.state.ledger.total == Decimal(str(batch["usage"]["cost"]))


async def test_bad_credit_top_ups_are_400(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        answers = [
            await control(client, "/_sim/credits", payload)
            for payload in (
                {"usd": "-1"},
                {"usd": "lots"},
                {},
                {"usd": "NaN"},
                {"usd": "1e999999"},
                {"usd": True},
            )
        ]
    assert [status for status, _ in answers] == [400] * 6


async def test_submissions_are_counted_per_custom_id(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        await created(client, batch_body([line("a"), line("b")]))
        await created(client, batch_body([line("a"), line("c")]))
        await call(client, "POST", V1, json=batch_body([line("z"), line("z")]))
        response = await client.session.get("/_sim/batches/submissions")
        summary = await response.json()
        detailed = await (
            await client.session.get(
                "/_sim/batches/submissions", params={"detail": "1"}
            )
        ).json()
    assert summary["batches"] == 2
    assert summary["lines"] == 4
    assert summary["duplicates"] == {"a": 2}
    assert "by_custom_id" not in summary
    assert detailed["by_custom_id"] == {"a": 2, "b": 1, "c": 1}


async def test_billed_total_is_readable_exactly(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        batch = await advance(client, await created(client, batch_body()))
        summary = await (await client.session.get("/_sim/batches/submissions")).json()
    assert Decimal(summary["billed_usd"]) == client.state.ledger.total
    assert float(summary["billed_usd"]) == batch["usage"]["cost"]


def test_batch_prices_are_half_the_realtime_ones() -> None:
    catalog = Catalog.load()
    realtime, batch = catalog.find(MODEL), catalog.find(f"{MODEL}:batch")
    assert realtime is not None
    assert batch is not None
    assert batch.prices.prompt == realtime.prices.prompt / 2
    assert batch.prices.completion == realtime.prices.completion / 2
