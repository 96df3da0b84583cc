"""Batch results: inline on GET, and paged under /results."""

import base64
from typing import Any

import pytest

from simulator.settings import SimulatorSettings
from tests.unit.simulator.batch_harness import (
    BETA,
    MODEL,
    V1,
    advance,
    batch_body,
    call,
    created,
    fetch,
    line,
    slow_settings,
)
from tests.unit.simulator.harness import running

FIVE = [line(f"line-{index}", f"prompt number {index}") for index in range(5)]


async def test_completed_batch_carries_one_result_per_custom_id(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        batch = await advance(client, await created(client, batch_body(FIVE)))
    results = batch["results"]
    assert sorted(entry["custom_id"] for entry in results) == [
        f"line-{index}" for index in range(5)
    ]
    for entry in results:
        assert entry["error"] is None
        assert entry["id"].startswith("batch_req_")
        response = entry["response"]
        assert response["status_code"] == 200
        body = response["body"]
        assert body["object"] == "chat.completion"
        assert body["id"].startswith("gen-batch-")
        assert body["model"] == MODEL
        content = body["choices"][0]["message"]["content"]
        assert content.startswith("Simulated reply to: prompt number")
    assert batch["request_counts"] == {"total": 5, "completed": 5, "failed": 0}


async def test_line_costs_sum_to_the_batch_cost(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        batch = await advance(client, await created(client, batch_body(FIVE)))
    usage = batch["usage"]
    line_costs = [
        entry["response"]["body"]["usage"]["cost"] for entry in batch["results"]
    ]
    assert usage["cost"] == pytest.approx(sum(line_costs), abs=1e-12)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["is_byok"] is False


async def test_line_cost_can_be_left_out(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings, batch_line_cost=False)) as client:
        batch = await advance(client, await created(client, batch_body()))
    for entry in batch["results"]:
        assert "cost" not in entry["response"]["body"]["usage"]
    assert batch["usage"]["cost"] > 0


async def _pages(client: Any, batch_id: str, limit: int) -> list[dict[str, Any]]:
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        status, page = await call(
            client, "GET", f"{V1}/{batch_id}/results", params=params
        )
        assert status == 200, page
        pages.append(page)
        if not page["has_more"]:
            return pages
        cursor = page["next_cursor"]


async def test_results_are_paged_with_a_cursor(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body(FIVE))
        inline = (await advance(client, batch_id))["results"]
        pages = await _pages(client, batch_id, limit=2)
        status, again = await call(
            client,
            "GET",
            f"{V1}/{batch_id}/results",
            params={"limit": 2, "cursor": pages[0]["next_cursor"]},
        )
    assert [len(page["data"]) for page in pages] == [2, 2, 1]
    assert pages[-1]["next_cursor"] is None
    assert all(page["object"] == "list" for page in pages)
    assert [entry for page in pages for entry in page["data"]] == inline
    assert status == 200
    assert again == pages[1]  # stable across retries


async def test_results_route_serves_the_beta_prefix(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body())
        await advance(client, batch_id)
        status, page = await call(client, "GET", f"{BETA}/{batch_id}/results")
    assert status == 200
    assert len(page["data"]) == 2


async def test_results_of_an_unfinished_batch_are_409(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body())
        status, answer = await call(client, "GET", f"{V1}/{batch_id}/results")
    assert status == 409
    assert "validating" in answer["error"]["message"]


async def test_results_of_a_failed_batch_are_an_empty_page(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body([line("x", stream=True)]))
        await advance(client, batch_id)
        status, page = await call(client, "GET", f"{V1}/{batch_id}/results")
    assert status == 200
    assert page == {
        "object": "list",
        "data": [],
        "has_more": False,
        "next_cursor": None,
    }


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"limit": "\u00b2"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
async def test_bad_results_queries_are_400(
    settings: SimulatorSettings, params: dict[str, Any], fragment: str
) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body())
        await advance(client, batch_id)
        status, answer = await call(
            client, "GET", f"{V1}/{batch_id}/results", params=params
        )
    assert status == 400
    assert fragment in answer["error"]["message"]


async def test_a_cursor_of_another_batch_is_400(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        first = await created(client, batch_body(FIVE))
        second = await created(client, batch_body(FIVE))
        await advance(client, first)
        await advance(client, second)
        _, page = await call(
            client, "GET", f"{V1}/{first}/results", params={"limit": 1}
        )
        status, _ = await call(
            client,
            "GET",
            f"{V1}/{second}/results",
            params={"cursor": page["next_cursor"]},
        )
    assert status == 400


async def test_a_cursor_with_a_non_ascii_offset_is_400(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body())
        await advance(client, batch_id)
        cursor = base64.urlsafe_b64encode(f"{batch_id}:\u00b2".encode()).decode()
        status, answer = await call(
            client, "GET", f"{V1}/{batch_id}/results", params={"cursor": cursor}
        )
    assert status == 400
    assert "cursor" in answer["error"]["message"]


async def test_inline_only_mode_has_no_results_route(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings, batch_results="inline")) as client:
        batch_id = await created(client, batch_body())
        batch = await advance(client, batch_id)
        status, text = await call(client, "GET", f"{V1}/{batch_id}/results")
    assert len(batch["results"]) == 2
    assert (status, text) == (404, "Not Found")


async def test_paged_only_mode_keeps_results_off_the_batch(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings, batch_results="paged")) as client:
        batch_id = await created(client, batch_body())
        await advance(client, batch_id)
        batch = await fetch(client, batch_id)
        status, page = await call(client, "GET", f"{V1}/{batch_id}/results")
    assert batch["status"] == "completed"
    assert batch["results"] is None
    assert status == 200
    assert len(page["data"]) == 2
