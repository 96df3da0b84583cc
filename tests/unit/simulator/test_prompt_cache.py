"""A repeated prompt reads the provider's cache: `cached_tokens`, cheaper input."""

import json
from decimal import Decimal

from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import chat, running, sse_payloads

CACHING = "openai/gpt-4o-mini"  # lists an input_cache_read price
NOT_CACHING = "openai/gpt-4o"  # lists none
LONG = "Summarise the following report. " * 40


async def test_repeated_prompt_reports_cached_tokens_and_costs_less(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        first = json.loads(
            await (await client.complete(chat(CACHING, LONG))).text(),
            parse_float=Decimal,
        )
        second = json.loads(
            await (await client.complete(chat(CACHING, LONG))).text(),
            parse_float=Decimal,
        )
        generation = client.state.generations.get(second["id"], float("inf"))
        model = client.state.catalog.find(CACHING)
    assert model is not None
    assert first["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    usage = second["usage"]
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    assert 0 < cached <= usage["prompt_tokens"]
    assert usage["cost"] < first["usage"]["cost"]
    prompt_cost = (usage["prompt_tokens"] - cached) * model.prices.prompt
    prompt_cost += cached * Decimal("0.000000075")  # gpt-4o-mini's cache-read price
    assert usage["cost_details"]["upstream_inference_prompt_cost"] == prompt_cost
    assert generation is not None
    assert generation.as_json()["native_tokens_cached"] == cached


async def test_a_growing_conversation_reads_its_earlier_turns_from_cache(
    settings: SimulatorSettings,
) -> None:
    turn = chat(CACHING, LONG)
    async with running(settings) as client:
        first = await (await client.complete(turn)).json()
        follow_up = {
            **turn,
            "messages": [
                *turn["messages"],
                {"role": "assistant", "content": "A summary."},
                {"role": "user", "content": "Shorter, please."},
            ],
        }
        second = await (await client.complete(follow_up)).json()
    cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert cached == first["usage"]["prompt_tokens"]
    assert cached < second["usage"]["prompt_tokens"]


async def test_model_without_a_cache_price_caches_nothing(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        await client.complete(chat(NOT_CACHING, LONG))
        again = await (await client.complete(chat(NOT_CACHING, LONG))).json()
    assert again["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


async def test_streamed_usage_reports_cached_tokens(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        await client.complete(chat(CACHING, LONG))
        response = await client.complete(chat(CACHING, LONG, stream=True))
        usage = sse_payloads(await response.text())[-1]["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] > 0
