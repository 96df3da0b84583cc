"""POST /chat/completions: shape, cost, validation order and error bodies."""

import json
import re
from decimal import Decimal
from importlib import resources

from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import KEY, chat, running

SONNET = "anthropic/claude-sonnet-4.5"


def _snapshot_prices(model_id: str) -> dict[str, Decimal]:
    source = resources.files("simulator") / "data" / "openrouter-models.json"
    models = json.loads(source.read_text(encoding="utf-8"))["data"]
    pricing = next(model["pricing"] for model in models if model["id"] == model_id)
    return {name: Decimal(price) for name, price in pricing.items()}


async def test_completion_has_openrouter_shape(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        response = await client.complete(chat(SONNET))
        body = await response.json()
    assert response.status == 200
    assert re.fullmatch(r"gen-\d+-[A-Za-z0-9]{20}", body["id"])
    assert response.headers["X-Generation-Id"] == body["id"]
    assert body["provider"] == "Anthropic"
    assert body["model"] == SONNET
    assert body["object"] == "chat.completion"
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["native_finish_reason"] == "end_turn"
    assert choice["message"]["content"].startswith("Simulated reply to: Hello there")
    usage = body["usage"]
    assert usage["is_byok"] is False
    assert {"prompt_tokens_details", "completion_tokens_details", "cost_details"} <= (
        usage.keys()
    )


async def test_cost_is_exact_tokens_times_catalog_price(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat(SONNET, "Hello there"))
        body = json.loads(await response.text(), parse_float=Decimal)
    usage = body["usage"]
    prices = _snapshot_prices(SONNET)
    # "Hello there" is 11 characters: ceil(11 / 4) + 4 per message.
    assert usage["prompt_tokens"] == 7
    assert usage["completion_tokens"] == settings.completion_tokens
    assert usage["total_tokens"] == 7 + settings.completion_tokens
    expected = 7 * prices["prompt"] + settings.completion_tokens * prices["completion"]
    assert usage["cost"] == expected == Decimal("0.000501")
    details = usage["cost_details"]
    assert details["upstream_inference_prompt_cost"] == Decimal("0.000021")
    assert details["upstream_inference_completions_cost"] == Decimal("0.00048")


async def test_max_tokens_truncates_with_finish_reason_length(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("openai/gpt-4o-mini", max_tokens=5))
        body = await response.json()
    assert body["usage"]["completion_tokens"] == 5
    assert body["choices"][0]["finish_reason"] == "length"
    assert len(body["choices"][0]["message"]["content"]) == 20


async def test_missing_key_gets_401_without_user_id(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.session.post(
            "/api/v1/chat/completions", json=chat(SONNET)
        )
        body = await response.json()
    assert response.status == 401
    assert body == {"error": {"message": "No auth credentials found", "code": 401}}


async def test_unknown_key_gets_user_not_found(settings: SimulatorSettings) -> None:
    configured = settings.model_copy(update={"api_keys": ("sk-or-v1-only",)})
    async with running(configured) as client:
        response = await client.session.post(
            "/api/v1/chat/completions",
            json=chat(SONNET),
            headers={"Authorization": "Bearer sk-or-v1-other"},
        )
        body = await response.json()
    assert response.status == 401
    assert body["error"] == {"code": 401, "message": "User not found."}


async def test_unknown_model_gets_400_with_real_message(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("acme/gpt-9"))
        body = await response.json()
    assert response.status == 400
    assert body["error"]["message"] == "acme/gpt-9 is not a valid model ID"
    assert body["user_id"] == "user_sim"


async def test_bad_parameters_get_400(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        hot = await client.complete(chat(SONNET, temperature=2.5))
        no_tokens = await client.complete(chat(SONNET, max_tokens=0))
        empty = await client.complete({"model": SONNET})
    assert [hot.status, no_tokens.status, empty.status] == [400, 400, 400]
    assert "temperature" in (await hot.json())["error"]["message"]


async def test_preflight_402_when_worst_case_exceeds_credits(
    settings: SimulatorSettings,
) -> None:
    poor = settings.model_copy(update={"credits_usd": Decimal("0.001")})
    async with running(poor) as client:
        response = await client.complete(chat(SONNET, max_tokens=1000))
        body = await response.json()
    assert response.status == 402
    assert body["error"]["message"].startswith(
        "This request requires more credits, or fewer max_tokens. "
        "You requested up to 1000 tokens, but can only afford 65."
    )
    assert body["error"]["metadata"]["limit_source"] == "openrouter_credits"


async def test_free_model_limit_answers_429_with_rate_limit_headers(
    settings: SimulatorSettings,
) -> None:
    limited = settings.model_copy(update={"free_requests_per_minute": 2})
    async with running(limited) as client:
        statuses = [
            (await client.complete(chat("openai/gpt-oss-20b:free"))).status
            for _ in range(2)
        ]
        refused = await client.complete(chat("openai/gpt-oss-20b:free"))
        body = await refused.json()
    assert statuses == [200, 200]
    assert refused.status == 429
    assert refused.headers["X-RateLimit-Limit"] == "2"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert int(refused.headers["X-RateLimit-Reset"]) > 10**12  # epoch milliseconds
    assert body["error"]["message"].startswith(
        "Rate limit exceeded: free-models-per-min"
    )
    assert body["error"]["metadata"]["headers"]["X-RateLimit-Limit"] == "2"


async def test_free_model_costs_nothing(settings: SimulatorSettings) -> None:
    async with running(settings) as client:
        body = await (await client.complete(chat("openai/gpt-oss-20b:free"))).json()
    assert body["usage"]["cost"] == 0


async def test_auto_router_answers_with_a_real_model(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        body = await (await client.complete(chat("openrouter/auto"))).json()
    assert body["model"] == settings.auto_router_model
    assert body["provider"] == "OpenAI"
    assert body["usage"]["cost"] > 0


async def test_models_fallback_serves_next_after_retryable_failure(
    settings: SimulatorSettings,
) -> None:
    request = chat("sim/503", models=["sim/503", "openai/gpt-4o-mini"])
    async with running(settings) as client:
        response = await client.complete(request)
        body = await response.json()
    assert response.status == 200
    assert body["model"] == "openai/gpt-4o-mini"


async def test_legacy_fields_are_accepted_and_ignored(
    settings: SimulatorSettings,
) -> None:
    request = chat(
        SONNET,
        usage={"include": True},
        stream_options={"include_usage": True},
        transforms=["middle-out"],
        route="fallback",
        provider={"order": ["anthropic"]},
        plugins=[{"id": "web"}],
    )
    async with running(settings) as client:
        response = await client.complete(request)
    assert response.status == 200


async def test_bad_json_model_answers_200_with_unparseable_body(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("sim/bad-json"))
        text = await response.text()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
    try:
        json.loads(text)
    except ValueError:
        return
    raise AssertionError("the body parsed as JSON")


async def test_error_200_model_reports_error_in_the_choice(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("sim/error-200"))
        body = await response.json()
    assert response.status == 200
    choice = body["choices"][0]
    assert choice["finish_reason"] == "error"
    assert choice["error"]["code"] == 502


async def test_moderation_403_carries_flagged_input(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("sim/403", "x" * 300))
        body = await response.json()
    assert response.status == 403
    metadata = body["error"]["metadata"]
    assert metadata["reasons"] == ["harassment"]
    assert len(metadata["flagged_input"]) == 100
    assert "..." in metadata["flagged_input"]


async def test_context_length_model_answers_typed_400(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("sim/context-length"))
        body = await response.json()
    assert response.status == 400
    assert body["error"]["metadata"]["error_type"] == "context_length_exceeded"


async def test_echo_401_quotes_the_authorization_header_in_the_envelope(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("sim/echo-401"))
        body = await response.json()
    assert response.status == 401
    assert body["error"]["message"] == f"Invalid credentials: Bearer {KEY}"


async def test_echo_502_quotes_every_request_header_as_plain_text(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(
            chat("sim/echo-502"), headers={"X-Helixq-Job-Id": "job-7"}
        )
        text = await response.text()
    assert response.status == 502
    assert response.content_type == "text/plain"
    assert f"Authorization: Bearer {KEY}" in text
    assert "X-Helixq-Job-Id: job-7" in text
