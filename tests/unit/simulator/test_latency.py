"""Simulated latency: per-model settings and scripted fast models."""

import time

from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import chat, running


async def test_model_latency_setting_delays_only_that_model(
    settings: SimulatorSettings,
) -> None:
    tuned = settings.model_copy(update={"model_latency_ms": {"openai/gpt-4o": 150}})
    async with running(tuned) as client:
        started = time.monotonic()
        await client.complete(chat("openai/gpt-4o"))
        slow_s = time.monotonic() - started
        started = time.monotonic()
        await client.complete(chat("openai/gpt-4o-mini"))
        fast_s = time.monotonic() - started
    assert slow_s >= 0.15
    assert fast_s < 0.1
