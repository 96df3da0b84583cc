"""Reasoning models: reasoning deltas first, `reasoning_tokens` in the usage."""

from typing import Any

import pytest

from simulator.catalog import Catalog
from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import AUTH, chat, running, sse_payloads

REASONER = "deepseek/deepseek-r1"
THINKING = "anthropic/claude-3.7-sonnet:thinking"
PLAIN = "openai/gpt-4o-mini"


def test_catalog_marks_the_models_that_reason() -> None:
    catalog = Catalog.load()
    reasoning = {
        model_id
        for model_id in (REASONER, THINKING, "openai/o3", "google/gemini-2.5-pro")
        if (model := catalog.find(model_id)) is not None and model.supports_reasoning
    }
    assert reasoning == {REASONER, THINKING, "openai/o3", "google/gemini-2.5-pro"}
    for model_id in (PLAIN, "meta-llama/llama-3.3-70b-instruct", "sim/ok"):
        model = catalog.find(model_id)
        assert model is not None
        assert not model.supports_reasoning


async def test_models_list_reasoning_only_for_models_that_reason(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.session.get("/api/v1/models")
        models = {m["id"]: m for m in (await response.json())["data"]}
    assert "reasoning" in models[REASONER]["supported_parameters"]
    assert "reasoning" not in models[PLAIN]["supported_parameters"]
    assert "tools" in models[PLAIN]["supported_parameters"]


async def test_asked_reasoning_model_returns_reasoning_and_counts_its_tokens(
    settings: SimulatorSettings,
) -> None:
    request = chat(REASONER, "Why?", reasoning={"effort": "high"})
    async with running(settings) as client:
        body = await (await client.complete(request)).json()
        generation = client.state.generations.get(body["id"], float("inf"))
    message = body["choices"][0]["message"]
    usage = body["usage"]
    reasoning_tokens = usage["completion_tokens_details"]["reasoning_tokens"]
    assert message["reasoning"]
    assert message["reasoning_details"][0]["type"] == "reasoning.text"
    assert message["reasoning_details"][0]["text"] == message["reasoning"]
    assert reasoning_tokens == -(-len(message["reasoning"]) // 4)
    assert usage["completion_tokens"] == reasoning_tokens + settings.completion_tokens
    assert generation is not None
    assert generation.as_json()["native_tokens_reasoning"] == reasoning_tokens


async def test_higher_effort_reasons_longer(settings: SimulatorSettings) -> None:
    async def reasoning_tokens(effort: str) -> int:
        request = chat(REASONER, reasoning={"effort": effort})
        body = await (await client.complete(request)).json()
        tokens: int = body["usage"]["completion_tokens_details"]["reasoning_tokens"]
        return tokens

    async with running(settings) as client:
        low, medium, high = [
            await reasoning_tokens(e) for e in ("low", "medium", "high")
        ]
        none = await reasoning_tokens("none")
    assert 0 < low < medium < high
    assert none == 0


async def test_reasoning_max_tokens_sets_the_budget(
    settings: SimulatorSettings,
) -> None:
    request = chat(REASONER, reasoning={"max_tokens": 7})
    async with running(settings) as client:
        body = await (await client.complete(request)).json()
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 7


async def test_streamed_reasoning_comes_before_the_content(
    settings: SimulatorSettings,
) -> None:
    request = chat(REASONER, reasoning_effort="low", stream=True)
    async with running(settings) as client:
        response = await client.complete(request)
        chunks = sse_payloads(await response.text())
    kinds = []
    for chunk in chunks:
        delta: dict[str, Any] = chunk["choices"][0]["delta"] if chunk["choices"] else {}
        if delta.get("reasoning"):
            kinds.append("reasoning")
            assert delta["reasoning_details"][0]["text"] == delta["reasoning"]
        elif delta.get("content"):
            kinds.append("content")
    assert kinds[0] == "reasoning"
    assert kinds.index("content") == kinds.count("reasoning")
    usage = chunks[-1]["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == kinds.count(
        "reasoning"
    )


async def test_excluded_reasoning_is_billed_but_not_shown(
    settings: SimulatorSettings,
) -> None:
    request = chat(REASONER, reasoning={"effort": "low", "exclude": True})
    async with running(settings) as client:
        body = await (await client.complete(request)).json()
    assert body["choices"][0]["message"]["reasoning"] is None
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


@pytest.mark.parametrize(
    ("model", "extra", "reasons"),
    [
        (PLAIN, {"reasoning": {"effort": "high"}}, False),  # ignored, as upstream
        (REASONER, {}, False),  # only when asked
        (REASONER, {"include_reasoning": True}, True),
        (REASONER, {"reasoning": {"enabled": True}}, True),
        (THINKING, {}, True),  # the variant always thinks
    ],
)
async def test_reasoning_happens_on_models_that_support_it_when_asked(
    settings: SimulatorSettings, model: str, extra: dict[str, Any], reasons: bool
) -> None:
    async with running(settings) as client:
        body = await (await client.complete(chat(model, **extra))).json()
    tokens = body["usage"]["completion_tokens_details"]["reasoning_tokens"]
    assert (tokens > 0) is reasons
    assert bool(body["choices"][0]["message"]["reasoning"]) is reasons


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"reasoning": "high"}, "reasoning must be an object"),
        ({"reasoning": {"effort": "huge"}}, "reasoning.effort"),
        ({"reasoning": {"max_tokens": 0}}, "reasoning.max_tokens"),
        ({"reasoning_effort": 3}, "reasoning_effort"),
    ],
)
async def test_malformed_reasoning_is_a_400(
    settings: SimulatorSettings, extra: dict[str, Any], message: str
) -> None:
    async with running(settings) as client:
        response = await client.session.post(
            "/api/v1/chat/completions", json=chat(REASONER, **extra), headers=AUTH
        )
        body = await response.json()
    assert response.status == 400
    assert message in body["error"]["message"]
