"""The batch lifecycle: validating → in_progress → completed, and its other ends."""

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from simulator.batches.batch import Batch, BatchStatus
from simulator.batches.lifecycle import advance, open_batch, request_cancel
from simulator.batches.submission import parse_submission
from simulator.catalog import Catalog
from simulator.settings import SimulatorSettings
from simulator.state import SimulatorState
from tests.unit.simulator.batch_harness import (
    MODEL,
    V1,
    batch_body,
    call,
    control,
    created,
    fetch,
    line,
    slow_settings,
)
from tests.unit.simulator.batch_harness import advance as fast_forward
from tests.unit.simulator.harness import running

T0 = 1_800_000_000.0


def _status(batch: Batch) -> BatchStatus:
    """Read the status afresh (an assert on the field narrows it for good)."""
    return batch.status


def _opened(
    settings: SimulatorSettings, requests: list[dict[str, Any]]
) -> tuple[Batch, SimulatorState]:
    state = SimulatorState(settings, Catalog.load())
    raw = json.dumps(batch_body(requests)).encode()
    return open_batch(parse_submission(raw, state), now=T0, state=state), state


async def test_batch_advances_by_time_through_each_status(
    settings: SimulatorSettings,
) -> None:
    timed = settings.model_copy(
        update={"batch_validating_s": 0.2, "batch_in_progress_s": 1.0}
    )
    seen: list[str] = []  # a second in progress: a loaded machine still sees it
    async with running(timed) as client:
        started = time.monotonic()
        batch_id = await created(client, batch_body())
        while not seen or seen[-1] != "completed":
            status = (await fetch(client, batch_id))["status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            assert time.monotonic() - started < 5, seen
            await asyncio.sleep(0.02)
    assert seen == ["validating", "in_progress", "completed"]
    assert time.monotonic() - started >= 1.2


def test_transitions_happen_at_their_times(settings: SimulatorSettings) -> None:
    timed = settings.model_copy(
        update={"batch_validating_s": 10.0, "batch_in_progress_s": 20.0}
    )
    batch, state = _opened(timed, [line("a"), line("b")])
    advance(batch, T0 + 9.9, state)
    assert _status(batch) is BatchStatus.VALIDATING
    advance(batch, T0 + 10, state)
    assert _status(batch) is BatchStatus.IN_PROGRESS
    assert advance(batch, T0 + 29.9, state) is False
    assert advance(batch, T0 + 30, state) is True
    assert _status(batch) is BatchStatus.COMPLETED
    assert batch.finalized_at == T0 + 30
    assert (batch.completed, batch.failed) == (2, 0)


def test_a_late_read_applies_every_transition_due(settings: SimulatorSettings) -> None:
    batch, state = _opened(settings, [line("a")])
    advance(batch, T0 + 10_000, state)
    assert _status(batch) is BatchStatus.COMPLETED


def test_cancel_bills_the_lines_finished_before_it(settings: SimulatorSettings) -> None:
    timed = settings.model_copy(
        update={
            "batch_validating_s": 0.0,
            "batch_in_progress_s": 100.0,
            "batch_cancel_s": 5.0,
        }
    )
    batch, state = _opened(timed, [line(str(index)) for index in range(10)])
    request_cancel(batch, T0 + 45, state)
    advance(batch, T0 + 49, state)
    assert _status(batch) is BatchStatus.IN_PROGRESS  # until the provider confirms
    advance(batch, T0 + 50, state)
    assert _status(batch) is BatchStatus.CANCELLED
    assert batch.completed == 5
    assert batch.results is None
    assert batch.usage is not None
    assert batch.usage.cost > 0
    assert state.ledger.total == batch.usage.cost


def test_cancel_after_the_provider_finished_completes(
    settings: SimulatorSettings,
) -> None:
    timed = settings.model_copy(
        update={"batch_validating_s": 0.0, "batch_in_progress_s": 10.0}
    )
    batch, state = _opened(timed, [line("a")])
    request_cancel(batch, T0 + 9.5, state)
    advance(batch, T0 + 20, state)
    assert _status(batch) is BatchStatus.COMPLETED


def test_window_shorter_than_the_work_expires_the_batch(
    settings: SimulatorSettings,
) -> None:
    timed = settings.model_copy(
        update={
            "batch_validating_s": 0.0,
            "batch_in_progress_s": 100.0,
            "batch_window_s": 30.0,
        }
    )
    batch, state = _opened(timed, [line(str(index)) for index in range(10)])
    advance(batch, T0 + 29, state)
    assert _status(batch) is BatchStatus.IN_PROGRESS
    advance(batch, T0 + 31, state)
    assert _status(batch) is BatchStatus.EXPIRED
    assert batch.finalized_at == T0 + 30
    assert batch.completed == 3
    assert batch.results is None
    assert batch.usage is not None
    assert state.ledger.total == batch.usage.cost > 0


async def test_fast_forward_moves_a_batch_on(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body())
        started = await fast_forward(client, batch_id, "in_progress")
        still = await fetch(client, batch_id)
        done = await fast_forward(client, batch_id)
    assert started["status"] == "in_progress"
    assert still["status"] == "in_progress"
    assert done["status"] == "completed"
    assert done["finalized_at"] is not None


@pytest.mark.parametrize(
    ("bad_line", "fragment"),
    [
        (line("bad", stream=True), "do not support stream: true"),
        (line("bad", max_tokens=0), "sets 'max_tokens' below 1"),
        (line("bad", max_tokens=10_000_000), "maximum context length is"),
        ({"custom_id": "bad", "body": {"messages": []}}, "messages"),
        (line("bad", temperature=5), "temperature"),
    ],
)
async def test_a_bad_line_fails_the_whole_batch_after_202(
    settings: SimulatorSettings, bad_line: dict[str, Any], fragment: str
) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body([line("good"), bad_line]))
        batch = await fast_forward(client, batch_id)
    assert batch["status"] == "failed"
    assert "'bad'" in batch["error"]["message"]
    assert fragment in batch["error"]["message"]
    assert batch["request_counts"] == {"total": 2, "completed": 0, "failed": 2}
    assert batch["finalized_at"] is not None
    assert batch["results"] is None
    assert batch["usage"] is None


async def test_a_scripted_batch_fails_then_the_next_one_completes(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        status, queued = await control(
            client, "/_sim/batches/script", {"model": MODEL, "batches": ["fail"]}
        )
        first = await fast_forward(client, await created(client, batch_body()))
        second = await fast_forward(client, await created(client, batch_body()))
    assert (status, queued) == (200, {"model": MODEL, "queued": 1})
    assert first["status"] == "failed"
    assert first["error"]["message"]
    assert second["status"] == "completed"


async def test_scripts_match_the_batch_variant_slug(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        await control(
            client, "/_sim/batches/script", {"model": MODEL, "batches": ["expire"]}
        )
        batch_id = await created(client, batch_body(model=f"{MODEL}:batch"))
        batch = await fast_forward(client, batch_id)
    assert batch["status"] == "expired"


async def test_fault_route_expires_a_running_batch(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body())
        status, _ = await control(
            client, f"/_sim/batches/{batch_id}/fault", {"outcome": "expire"}
        )
        batch = await fast_forward(client, batch_id)
    assert status == 200
    assert batch["status"] == "expired"
    assert batch["results"] is None
    assert batch["request_counts"]["completed"] == 0


async def test_scripted_failed_lines_leave_a_completed_batch(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        await control(
            client,
            "/_sim/batches/script",
            {"model": MODEL, "batches": [{"failed_lines": 1}]},
        )
        batch = await fast_forward(client, await created(client, batch_body()))
    assert batch["status"] == "completed"
    assert batch["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    [failed] = [entry for entry in batch["results"] if entry["error"] is not None]
    assert failed["custom_id"] == "a"
    assert failed["response"] is None


async def test_fault_route_fails_named_lines(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body())
        await control(
            client, f"/_sim/batches/{batch_id}/fault", {"failed_custom_ids": ["b"]}
        )
        batch = await fast_forward(client, batch_id)
    errors = {entry["custom_id"]: entry["error"] for entry in batch["results"]}
    assert errors["a"] is None
    assert errors["b"]["message"]
    assert errors["b"]["type"]


async def test_all_lines_failing_still_completes_with_a_message(
    settings: SimulatorSettings,
) -> None:
    failing = slow_settings(settings, batch_line_failure_rate=1.0)
    async with running(failing) as client:
        batch = await fast_forward(client, await created(client, batch_body()))
    assert batch["status"] == "completed"
    assert batch["request_counts"] == {"total": 2, "completed": 0, "failed": 2}
    assert batch["error"]["message"] == (
        "All 2 request(s) in this batch failed upstream; "
        "inspect each result's error field."
    )
    assert batch["usage"]["cost"] == 0


async def test_fault_on_an_ended_batch_is_409(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body())
        await fast_forward(client, batch_id)
        status, answer = await control(
            client, f"/_sim/batches/{batch_id}/fault", {"outcome": "fail"}
        )
    assert status == 409
    assert "completed" in answer["error"]["message"]


@pytest.mark.parametrize(
    "payload",
    [
        {"model": MODEL, "batches": ["explode"]},
        {"model": MODEL, "batches": [{"failed_lines": -1}]},
        {"model": MODEL, "batches": [{"outcome": "complete", "colour": "red"}]},
        {"model": "acme/nothing", "batches": ["fail"]},
        {"model": MODEL},
    ],
)
async def test_bad_scripts_are_400(
    settings: SimulatorSettings, payload: dict[str, Any]
) -> None:
    async with running(settings) as client:
        status, answer = await control(client, "/_sim/batches/script", payload)
    assert status == 400
    assert answer["error"]["message"]


async def test_advancing_an_unknown_batch_is_404(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        response = await client.session.post("/_sim/batches/batch-nope/advance")
    assert response.status == 404


async def test_lost_answer_still_stores_the_batch(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        await control(
            client, "/_sim/batches/script", {"model": MODEL, "batches": ["lose-answer"]}
        )
        with pytest.raises(aiohttp.ClientError):
            await call(client, "POST", V1, json=batch_body())
        _, listing = await call(client, "GET", V1)
    [batch] = listing["data"]
    assert batch["status"] == "validating"


@pytest.mark.parametrize("until", [["in_progress"], "completed", 3])
async def test_bad_fast_forward_steps_are_400(
    settings: SimulatorSettings, until: object
) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body())
        status, answer = await control(
            client, f"/_sim/batches/{batch_id}/advance", {"until": until}
        )
    assert status == 400
    assert "until must be one of" in answer["error"]["message"]
