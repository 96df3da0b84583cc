"""List, get, cancel and delete batches."""

from typing import Any

import pytest

from simulator.settings import SimulatorSettings
from tests.unit.simulator.batch_harness import (
    V1,
    advance,
    batch_body,
    call,
    created,
    fetch,
    slow_settings,
)
from tests.unit.simulator.harness import running


async def test_list_is_newest_first_and_pages_with_after(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        ids = [await created(client, batch_body()) for _ in range(5)]
        _, first = await call(client, "GET", V1, params={"limit": 2})
        _, second = await call(
            client, "GET", V1, params={"limit": 2, "after": first["last_id"]}
        )
        _, third = await call(
            client, "GET", V1, params={"limit": 2, "after": second["last_id"]}
        )
    newest_first = ids[::-1]
    assert [item["id"] for item in first["data"]] == newest_first[:2]
    assert first["object"] == "list"
    assert first["first_id"] == newest_first[0]
    assert first["has_more"] is True
    assert [item["id"] for item in second["data"]] == newest_first[2:4]
    assert [item["id"] for item in third["data"]] == newest_first[4:]
    assert third["has_more"] is False


async def test_list_default_limit_is_20(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        for _ in range(21):
            await created(client, batch_body())
        _, page = await call(client, "GET", V1)
    assert len(page["data"]) == 20
    assert page["has_more"] is True


async def test_empty_list(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        _, page = await call(client, "GET", V1)
    assert page == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


async def test_list_items_carry_no_results(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        await advance(client, await created(client, batch_body()))
        _, page = await call(client, "GET", V1)
    [item] = page["data"]
    assert item["status"] == "completed"
    assert item["results"] is None


async def test_list_filters_by_repeated_status(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        done = await created(client, batch_body())
        await advance(client, done)
        waiting = await created(client, batch_body())
        _, only_done = await call(client, "GET", V1, params={"status": "completed"})
        _, both = await call(
            client,
            "GET",
            V1,
            params=[("status", "completed"), ("status", "validating")],
        )
    assert [item["id"] for item in only_done["data"]] == [done]
    assert [item["id"] for item in both["data"]] == [waiting, done]


async def test_list_filters_by_creation_time(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        batch = await fetch(client, await created(client, batch_body()))
        created_at = batch["created_at"]

        async def listed(**params: Any) -> int:
            _, page = await call(client, "GET", V1, params=params)
            return len(page["data"])

        counts = [
            await listed(created_after=created_at - 1),
            await listed(created_after=created_at),  # strict
            await listed(created_before=created_at + 1),
            await listed(created_before=created_at),  # strict
            await listed(created_after="2000-01-01"),
            await listed(created_before="2000-01-01T00:00:00Z"),
        ]
    assert counts == [1, 0, 1, 0, 1, 0]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "\u00b2"}, "limit"),
        ({"status": "finalizing"}, "status"),
        ({"status": "cancelling"}, "status"),
        ({"after": "batch-unknown"}, "after"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_after": "nan"}, "created_after"),
        ({"created_before": "inf"}, "created_before"),
    ],
)
async def test_bad_list_queries_are_400(
    settings: SimulatorSettings, params: dict[str, Any], fragment: str
) -> None:
    async with running(settings) as client:
        status, answer = await call(client, "GET", V1, params=params)
    assert status == 400
    assert fragment in answer["error"]["message"]


async def test_after_a_deleted_batch_keeps_its_place(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        older = await created(client, batch_body())
        newer = await created(client, batch_body())
        await advance(client, newer)
        await call(client, "DELETE", f"{V1}/{newer}")
        status, page = await call(client, "GET", V1, params={"after": newer})
    assert status == 200
    assert [item["id"] for item in page["data"]] == [older]


async def test_get_unknown_batch_is_404(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        status, answer = await call(client, "GET", f"{V1}/batch-nope")
    assert status == 404
    assert answer["error"] == {"code": 404, "message": "Batch batch-nope not found"}


async def test_cancel_keeps_in_progress_until_the_provider_confirms(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings, batch_cancel_s=600.0)) as client:
        batch_id = await created(client, batch_body())
        await advance(client, batch_id, "in_progress")
        status, answer = await call(client, "POST", f"{V1}/{batch_id}/cancel")
        repeat, _ = await call(client, "POST", f"{V1}/{batch_id}/cancel")
        ended = await advance(client, batch_id)
        final, refusal = await call(client, "POST", f"{V1}/{batch_id}/cancel")
    assert (status, repeat) == (200, 200)
    assert answer["status"] == "in_progress"
    assert ended["status"] == "cancelled"
    assert ended["results"] is None
    assert ended["finalized_at"] is not None
    assert final == 409
    assert "cancelled" in refusal["error"]["message"]


async def test_cancel_can_be_forbidden(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings, batch_cancel="403")) as client:
        batch_id = await created(client, batch_body())
        status, answer = await call(client, "POST", f"{V1}/{batch_id}/cancel")
        batch = await fetch(client, batch_id)
    assert status == 403
    assert answer["error"]["code"] == 403
    assert batch["status"] == "validating"


async def test_cancel_route_can_be_missing(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings, batch_cancel="404")) as client:
        batch_id = await created(client, batch_body())
        status, text = await call(client, "POST", f"{V1}/{batch_id}/cancel")
    assert (status, text) == (404, "Not Found")


async def test_cancel_of_an_unknown_batch_is_404(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        status, answer = await call(client, "POST", f"{V1}/batch-nope/cancel")
    assert status == 404
    assert answer["error"]["code"] == 404


async def test_delete_is_409_until_the_batch_ends(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body())
        early, refusal = await call(client, "DELETE", f"{V1}/{batch_id}")
        await advance(client, batch_id)
        status, deleted = await call(client, "DELETE", f"{V1}/{batch_id}")
        gone, _ = await call(client, "GET", f"{V1}/{batch_id}")
        again, _ = await call(client, "DELETE", f"{V1}/{batch_id}")
    assert early == 409
    assert "validating" in refusal["error"]["message"]
    assert status == 200
    assert deleted == {
        "id": batch_id,
        "object": "batch",
        "deletion": {
            "openrouter": "deleted",
            "upstream": {"provider": "OpenAI", "status": "deleted"},
        },
    }
    assert (gone, again) == (404, 404)


async def test_delete_of_a_batch_never_started_names_no_upstream(
    settings: SimulatorSettings,
) -> None:
    async with running(slow_settings(settings)) as client:
        bad = batch_body([{"custom_id": "x", "body": {"messages": []}}])
        batch_id = await created(client, bad)
        await advance(client, batch_id)
        _, deleted = await call(client, "DELETE", f"{V1}/{batch_id}")
    assert deleted["deletion"] == {"openrouter": "deleted"}


async def test_reset_forgets_batches(settings: SimulatorSettings) -> None:
    async with running(slow_settings(settings)) as client:
        await created(client, batch_body())
        await client.session.post("/_sim/reset")
        _, page = await call(client, "GET", V1)
    assert page["data"] == []
