"""The /_sim control endpoints: health, calls, reset."""

import time

from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import chat, running


async def test_calls_count_by_status_job_and_model(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        for job in ("job-a", "job-a", "job-b"):
            await client.complete(
                chat("sim/429-then-ok"), headers={"X-Helixq-Job-Id": job}
            )
        summary = await (await client.session.get("/_sim/calls")).json()
    assert summary["total"] == 3
    assert summary["by_status"] == {"429": 2, "200": 1}
    assert summary["by_job"] == {"job-a": 2, "job-b": 1}
    assert summary["by_model"] == {"sim/429-then-ok": 3}
    assert "calls" not in summary


async def test_calls_detail_lists_each_call(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        body = await (
            await client.complete(chat("sim/ok"), headers={"X-Helixq-Job-Id": "j1"})
        ).json()
        summary = await (
            await client.session.get("/_sim/calls", params={"detail": "1"})
        ).json()
    [call] = summary["calls"]
    assert call["generation_id"] == body["id"]
    assert call["job_id"] == "j1"
    assert call["provider"] == "Simulator"
    assert call["status"] == 200
    assert isinstance(call["ts"], float)


async def test_a_call_is_logged_with_when_it_arrived_and_when_it_was_answered(
    settings: SimulatorSettings,
) -> None:
    # An upstream's rate limit counts requests as they arrive, whatever their latency.
    slow = settings.model_copy(update={"latency_ms": 200})
    async with running(slow) as client:
        sent = time.time()
        await client.complete(chat("sim/ok"))
        refused = await client.complete(chat("no/such-model"))
        summary = await (
            await client.session.get("/_sim/calls", params={"detail": "1"})
        ).json()
    answered, unknown = summary["calls"]
    assert refused.status == 400
    assert sent <= answered["received_ts"] < sent + 0.1
    assert answered["ts"] - answered["received_ts"] >= 0.2
    assert answered["received_ts"] <= unknown["received_ts"] <= unknown["ts"]


async def test_reset_clears_calls_generations_and_scripts(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        await client.complete(chat("sim/ok"))
        await client.session.post(
            "/_sim/script", json={"model": "sim/ok", "responses": [500]}
        )
        reset = await client.session.post("/_sim/reset")
        summary = await (await client.session.get("/_sim/calls")).json()
        after = await client.complete(chat("sim/ok"))
    assert reset.status == 200
    assert summary["total"] == 0
    assert after.status == 200
    assert client.state.ledger.total > 0  # only the call made after the reset


async def test_health_is_ok(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        response = await client.session.get("/_sim/health")
    assert (await response.json()) == {"status": "ok"}
