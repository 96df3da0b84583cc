"""A client that closes the stream: noticed promptly, billed for what was generated."""

import asyncio
import time
from decimal import Decimal
from typing import Any

from simulator.generations import Generation
from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import AUTH, SimClient, chat, running


async def _cancelled_call(client: SimClient, within_s: float) -> dict[str, Any] | None:
    """Wait for the call log to show a cancelled call; return it."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        calls = client.state.calls.summary(with_calls=True)["calls"]
        cancelled = [call for call in calls if call["cancelled"]]
        if cancelled:
            return cancelled[0]
        await asyncio.sleep(0.01)
    return None


def _generation(client: SimClient, generation_id: str) -> Generation:
    generation = client.state.generations.get(generation_id, float("inf"))
    assert generation is not None
    return generation


async def test_close_while_thinking_is_noticed_within_a_fraction_of_a_second(
    settings: SimulatorSettings,
) -> None:
    slow = settings.model_copy(
        update={"latency_ms": 30_000, "processing_interval_ms": 10_000}
    )
    async with running(slow) as client:
        response = await client.session.post(
            "/api/v1/chat/completions",
            json=chat("openai/gpt-4o-mini", stream=True),
            headers=AUTH,
        )
        assert await response.content.readline() == b": OPENROUTER PROCESSING\n"
        generation_id = response.headers["X-Generation-Id"]
        closed_at = time.time()
        response.close()
        call = await _cancelled_call(client, within_s=2)
        assert call is not None
        generation = _generation(client, generation_id)
        summary = client.state.calls.summary()
    assert call["ts"] - closed_at < 0.5
    assert call["streamed"] is True
    assert call["completion_tokens"] == 0
    assert summary["cancelled"] == 1
    assert generation.is_cancelled is True
    assert generation.tokens_completion == 0


async def test_close_mid_stream_bills_only_the_tokens_generated(
    settings: SimulatorSettings,
) -> None:
    paced = settings.model_copy(
        update={"token_interval_ms": 50, "completion_tokens": 40}
    )
    async with running(paced) as client:
        response = await client.session.post(
            "/api/v1/chat/completions",
            json=chat("openai/gpt-4o-mini", stream=True),
            headers=AUTH,
        )
        generation_id = response.headers["X-Generation-Id"]
        data_events = 0
        async for line in response.content:
            data_events += line.startswith(b"data: ")
            if data_events == 4:  # the role chunk and three tokens
                break
        response.close()
        call = await _cancelled_call(client, within_s=2)
        assert call is not None
        generation = _generation(client, generation_id)
        spent = client.state.ledger.total
    assert 3 <= generation.tokens_completion <= 6
    assert call["completion_tokens"] == generation.tokens_completion
    model = client.state.catalog.find("openai/gpt-4o-mini")
    assert model is not None
    expected = (
        generation.tokens_prompt * model.prices.prompt
        + generation.tokens_completion * model.prices.completion
    )
    assert generation.cost_usd == expected == spent
    assert generation.cost_usd < Decimal(40) * model.prices.completion


async def test_finished_stream_is_not_marked_cancelled(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("openai/gpt-4o-mini", stream=True))
        summary = client.state.calls.summary(with_calls=True)
    assert response.status == 200
    assert summary["cancelled"] == 0
    (call,) = summary["calls"]
    assert call["streamed"] is True
    assert call["cancelled"] is False
    assert call["completion_tokens"] == settings.completion_tokens
