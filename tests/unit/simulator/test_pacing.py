"""Token pacing: time to first token, one chunk per token interval, keep-alives."""

import json
import time
from typing import Any

import aiohttp

from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import AUTH, chat, running, sse_events, sse_payloads

PROCESSING = ": OPENROUTER PROCESSING"


async def _timed_events(response: aiohttp.ClientResponse) -> list[tuple[float, str]]:
    """Each event of a stream with the monotonic time its last line arrived."""
    events: list[tuple[float, str]] = []
    lines: list[str] = []
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line:
            lines.append(line)
            continue
        if lines:
            events.append((time.monotonic(), "\n".join(lines)))
            lines = []
    return events


async def _streamed(client: Any) -> list[tuple[float, str]]:
    """The timed events of one streamed completion."""
    response = await client.session.post(
        "/api/v1/chat/completions",
        json=chat("openai/gpt-4o-mini", stream=True),
        headers=AUTH,
    )
    return await _timed_events(response)


def _content_times(events: list[tuple[float, str]]) -> list[float]:
    """When each chunk that carries content arrived."""
    times = []
    for arrived, event in events:
        if not event.startswith("data: {"):
            continue
        choices: list[dict[str, Any]] = json.loads(event[6:])["choices"]
        if any(choice["delta"].get("content") for choice in choices):
            times.append(arrived)
    return times


async def test_stream_sends_one_content_chunk_per_token(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("openai/gpt-4o-mini", stream=True))
        chunks = sse_payloads(await response.text())
    contents = [
        chunk["choices"][0]["delta"]["content"]
        for chunk in chunks
        if chunk["choices"] and chunk["choices"][0]["delta"].get("content")
    ]
    assert len(contents) == settings.completion_tokens
    assert all(1 <= len(piece) <= 4 for piece in contents)


async def test_first_token_after_latency_then_one_per_token_interval(
    settings: SimulatorSettings,
) -> None:
    paced = settings.model_copy(
        update={"latency_ms": 150, "token_interval_ms": 40, "completion_tokens": 6}
    )
    async with running(paced) as client:
        started = time.monotonic()
        events = await _streamed(client)
    times = _content_times(events)
    assert len(times) == 6
    # No token before its time: the latency, then one interval per token.
    for token, arrived in enumerate(times):
        assert arrived - started >= 0.15 + token * 0.04
    # And not all at the end: they spread over the completion.
    assert times[-1] - times[0] >= 0.5 * 5 * 0.04


async def test_non_streaming_answer_takes_latency_plus_token_intervals(
    settings: SimulatorSettings,
) -> None:
    paced = settings.model_copy(
        update={"latency_ms": 50, "token_interval_ms": 30, "completion_tokens": 8}
    )
    async with running(paced) as client:
        started = time.monotonic()
        response = await client.complete(chat("openai/gpt-4o-mini"))
        elapsed_s = time.monotonic() - started
    assert response.status == 200
    assert elapsed_s >= 0.05 + 7 * 0.03


async def test_default_token_interval_keeps_the_latency_alone(
    settings: SimulatorSettings,
) -> None:
    assert SimulatorSettings(_env_file=None).token_interval_ms == 0
    timed = settings.model_copy(update={"latency_ms": 100, "completion_tokens": 500})
    async with running(timed) as client:
        started = time.monotonic()
        await client.complete(chat("openai/gpt-4o-mini"))
        elapsed_s = time.monotonic() - started
    assert 0.1 <= elapsed_s < 0.6


async def test_processing_comments_repeat_while_the_model_thinks(
    settings: SimulatorSettings,
) -> None:
    thinking = settings.model_copy(
        update={"latency_ms": 450, "processing_interval_ms": 100}
    )
    async with running(thinking) as client:
        response = await client.complete(chat("openai/gpt-4o-mini", stream=True))
        events = sse_events(await response.text())
    first_data = next(i for i, event in enumerate(events) if event.startswith("data:"))
    assert first_data >= 3
    assert set(events[:first_data]) == {PROCESSING}
    assert PROCESSING not in events[first_data:]


async def test_the_call_log_gives_the_time_the_first_token_was_due(
    settings: SimulatorSettings,
) -> None:
    paced = settings.model_copy(
        update={"latency_ms": 100, "token_interval_ms": 30, "completion_tokens": 4}
    )
    async with running(paced) as client:
        sent_ts = time.time()
        events = await _streamed(client)
        arrived_ts = time.time() - (time.monotonic() - _content_times(events)[0])
        log = await (await client.session.get("/_sim/calls?detail=1")).json()
        plain = await client.complete(chat("openai/gpt-4o-mini"))
        assert plain.status == 200
        after = await (await client.session.get("/_sim/calls?detail=1")).json()
    (call,) = log["calls"]
    assert sent_ts + 0.1 <= call["first_token_ts"] <= arrived_ts
    assert arrived_ts - call["first_token_ts"] < 0.05
    assert after["calls"][-1]["first_token_ts"] is None  # not streamed
