"""The key provisioning API (/api/v1/keys), its limits, and the per-key controls
(/_sim/keys: calls by key label, a 429 storm on one key)."""

from simulator.auth import key_label
from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import AUTH, KEY, chat, running

OTHER = "sk-or-v1-" + "ab" * 32


async def test_a_provisioned_key_is_created_listed_updated_and_deleted(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        created = await client.session.post(
            "/api/v1/keys",
            json={"name": "tenant acme", "limit": 5, "limit_reset": "monthly"},
            headers=AUTH,
        )
        body = await created.json()
        key, data = body["key"], body["data"]
        listed = await (await client.session.get("/api/v1/keys", headers=AUTH)).json()
        patched = await client.session.patch(
            f"/api/v1/keys/{data['hash']}", json={"limit": 7.5}, headers=AUTH
        )
        fetched = await client.session.get(f"/api/v1/keys/{data['hash']}", headers=AUTH)
        deleted = await client.session.delete(
            f"/api/v1/keys/{data['hash']}", headers=AUTH
        )
        gone = await client.session.get(f"/api/v1/keys/{data['hash']}", headers=AUTH)
    assert created.status == 201
    assert key.startswith("sk-or-v1-")
    assert data["label"] == key_label(key)
    assert (data["limit"], data["limit_remaining"], data["limit_reset"]) == (
        5,
        5,
        "monthly",
    )
    assert [k["hash"] for k in listed["data"]] == [data["hash"]]
    assert "key" not in listed["data"][0]
    assert (await patched.json())["data"]["limit"] == 7.5
    assert (await fetched.json())["data"]["limit"] == 7.5
    assert (deleted.status, await deleted.json()) == (200, {"deleted": True})
    assert gone.status == 404


async def test_a_provisioned_key_at_its_limit_is_refused_with_403(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        created = await client.session.post(
            "/api/v1/keys", json={"name": "small", "limit": 0.000001}, headers=AUTH
        )
        key = (await created.json())["key"]
        own = {"Authorization": f"Bearer {key}"}
        first = await client.complete(chat("openai/gpt-4o-mini"), headers=own)
        second = await client.complete(chat("openai/gpt-4o-mini"), headers=own)
        other = await client.complete(chat("openai/gpt-4o-mini"))
        error = await second.json()
        manage = await client.session.get("/api/v1/keys", headers=own)
    assert first.status == 200  # the call that crossed the limit is served
    assert second.status == 403
    assert error["error"]["message"] == "Key limit exceeded"
    assert other.status == 200  # the account's other keys go on
    assert manage.status == 403  # a provisioned key manages no keys


async def test_provisioning_refuses_bad_fields_and_changes_nothing(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        created = await client.session.post(
            "/api/v1/keys", json={"name": "k", "limit": 1}, headers=AUTH
        )
        hash_ = (await created.json())["data"]["hash"]
        bad = await client.session.patch(
            f"/api/v1/keys/{hash_}",
            json={"limit": 9, "limit_reset": "hourly"},
            headers=AUTH,
        )
        after = await (
            await client.session.get(f"/api/v1/keys/{hash_}", headers=AUTH)
        ).json()
        nameless = await client.session.post(
            "/api/v1/keys", json={"limit": 1}, headers=AUTH
        )
    assert bad.status == 400
    assert after["data"]["limit"] == 1
    assert nameless.status == 400


async def test_calls_are_counted_by_key_label_and_a_storm_hits_one_key(
    settings: SimulatorSettings,
) -> None:
    other = {"Authorization": f"Bearer {OTHER}"}
    async with running(settings) as client:
        storm = await client.session.post(
            "/_sim/keys/storm", json={"label": key_label(OTHER), "for_s": 30}
        )
        stormed = await client.complete(chat("openai/gpt-4o-mini"), headers=other)
        calm = await client.complete(chat("openai/gpt-4o-mini"))
        summary = await (await client.session.get("/_sim/keys")).json()
    assert storm.status == 200
    assert stormed.status == 429
    assert stormed.headers["Retry-After"] == "1"
    assert calm.status == 200
    assert summary["calls"] == {
        key_label(OTHER): {"total": 1, "by_status": {"429": 1}},
        key_label(KEY): {"total": 1, "by_status": {"200": 1}},
    }
    assert OTHER not in str(summary)
    assert KEY not in str(summary)
