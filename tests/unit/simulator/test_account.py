"""GET /generation, /key, /auth/key and /credits."""

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
