"""GET /generation, /key, /auth/key and /credits."""

from datetime import UTC, datetime
from decimal import Decimal

from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import AUTH, chat, running


async def test_generation_reports_a_served_completion(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        body = await (await client.complete(chat("openai/gpt-4o-mini"))).json()
        response = await client.session.get(
            "/api/v1/generation", params={"id": body["id"]}, headers=AUTH
        )
        data = (await response.json())["data"]
    assert response.status == 200
    assert data["id"] == body["id"]
    assert data["total_cost"] == body["usage"]["cost"]
    assert data["tokens_prompt"] == body["usage"]["prompt_tokens"]
    assert data["tokens_completion"] == body["usage"]["completion_tokens"]
    assert data["model"] == "openai/gpt-4o-mini"
    assert data["provider_name"] == "OpenAI"
    assert data["finish_reason"] == "stop"
    assert data["streamed"] is False
    assert data["cancelled"] is False
    assert isinstance(data["latency"], int)
    assert data["created_at"].endswith("+00:00")


async def test_generation_lists_every_provider_attempt(
    settings: SimulatorSettings,
) -> None:
    request = chat("sim/429", models=["sim/429", "sim/ok"])
    async with running(settings) as client:
        body = await (await client.complete(request)).json()
        response = await client.session.get(
            "/api/v1/generation", params={"id": body["id"]}, headers=AUTH
        )
        attempts = (await response.json())["data"]["provider_responses"]
    assert [attempt["status"] for attempt in attempts] == [429, 200]


async def test_unknown_generation_is_404(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        response = await client.session.get(
            "/api/v1/generation", params={"id": "gen-1-missing"}, headers=AUTH
        )
    assert response.status == 404


async def test_generation_needs_a_key(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        response = await client.session.get(
            "/api/v1/generation", params={"id": "gen-1-x"}
        )
    assert response.status == 401


async def test_key_usage_sums_served_generations(settings: SimulatorSettings) -> None:
    capped = settings.model_copy(update={"credit_limit_usd": Decimal(5)})
    async with running(capped) as client:
        costs = [
            (await (await client.complete(chat(model))).json())["usage"]["cost"]
            for model in ("openai/gpt-4o", "anthropic/claude-sonnet-4.5")
        ]
        data = (await (await client.session.get("/api/v1/key", headers=AUTH)).json())[
            "data"
        ]
        legacy = await client.session.get("/api/v1/auth/key", headers=AUTH)
    spent = sum(Decimal(str(cost)) for cost in costs)
    assert Decimal(str(data["usage"])) == spent
    assert Decimal(str(data["usage_daily"])) == spent
    assert data["limit"] == 5
    assert Decimal(str(data["limit_remaining"])) == Decimal(5) - spent
    assert data["label"] == "sk-or-v1-0e6...1c96"
    assert legacy.status == 200


async def test_credits_report_total_and_usage(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        await client.complete(chat("openai/gpt-4o"))
        response = await client.session.get("/api/v1/credits", headers=AUTH)
        data = (await response.json())["data"]
    assert data["total_credits"] == 1000
    assert data["total_usage"] > 0


async def test_key_limit_binds_the_preflight(settings: SimulatorSettings) -> None:
    capped = settings.model_copy(update={"credit_limit_usd": Decimal("0.0001")})
    async with running(capped) as client:
        response = await client.complete(chat("anthropic/claude-sonnet-4.5"))
        body = await response.json()
    assert response.status == 402
    assert body["error"]["metadata"]["limit_source"] == "openrouter_key_limit"


OTHER_KEY = "sk-or-v1-" + "7" * 64
OTHER = {"Authorization": f"Bearer {OTHER_KEY}"}


async def _data(client, path: str, headers=AUTH, **params):
    response = await client.session.get(path, headers=headers, params=params)
    return response.status, (await response.json()).get("data")


async def test_activity_key_usage_and_credits_agree(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        costs = {}
        for model, headers in (
            ("openai/gpt-4o", AUTH),
            ("openai/gpt-4o", OTHER),
            ("anthropic/claude-sonnet-4.5", AUTH),
        ):
            body = await (await client.complete(chat(model), headers=headers)).json()
            costs.setdefault(model, []).append(Decimal(str(body["usage"]["cost"])))
        today = datetime.now(UTC).date().isoformat()
        status, rows = await _data(client, "/api/v1/activity", date=today)
        _, mine = await _data(client, "/api/v1/key")
        _, theirs = await _data(client, "/api/v1/key", headers=OTHER)
        _, credits = await _data(client, "/api/v1/credits")
        _, completed = await _data(client, "/api/v1/activity")
    assert status == 200
    by_model = {row["model"]: row for row in rows}
    assert {row["date"] for row in rows} == {today}
    for model, spent in costs.items():
        assert Decimal(str(by_model[model]["usage"])) == sum(spent)
        assert by_model[model]["requests"] == len(spent)
    assert Decimal(str(theirs["usage"])) == costs["openai/gpt-4o"][1]
    assert Decimal(str(mine["usage"])) + Decimal(str(theirs["usage"])) == Decimal(
        str(credits["total_usage"])
    )
    assert sum(Decimal(str(row["usage"])) for row in rows) == Decimal(
        str(credits["total_usage"])
    )
    assert completed == []  # without `date`: completed days only


async def test_activity_and_credits_need_a_management_key_when_configured(
    settings: SimulatorSettings,
) -> None:
    managed = settings.model_copy(update={"management_keys": (OTHER_KEY,)})
    async with running(managed) as client:
        refused, _ = await _data(client, "/api/v1/activity")
        refused_credits, _ = await _data(client, "/api/v1/credits")
        allowed, rows = await _data(client, "/api/v1/activity", headers=OTHER)
        bad_date, _ = await _data(client, "/api/v1/activity", headers=OTHER, date="x")
    assert (refused, refused_credits, allowed, rows) == (403, 403, 200, [])
    assert bad_date == 400
