"""Server-sent events: the documented order and the mid-stream error."""

import asyncio
import json
from typing import Any

from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import chat, running


def _events(text: str) -> list[str]:
    return [event for event in text.split("\n\n") if event]


def _payloads(events: list[str]) -> list[Any]:
    return [
        json.loads(event.removeprefix("data: "))
        for event in events
        if event.startswith("data: {")
    ]


async def test_stream_sends_comment_role_deltas_finish_usage_done(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("openai/gpt-4o-mini", stream=True))
        events = _events(await response.text())
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert events[0] == ": OPENROUTER PROCESSING"
    assert events[-1] == "data: [DONE]"
    chunks = _payloads(events)
    role, *deltas, finish, usage = chunks
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len(deltas) >= 2
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in deltas)
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == settings.completion_tokens
    text = "".join(chunk["choices"][0]["delta"]["content"] for chunk in deltas)
    assert text.startswith("Simulated reply to: Hello there")
    assert {chunk["id"] for chunk in chunks} == {response.headers["X-Generation-Id"]}
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}


async def test_midstream_error_ends_stream_with_error_chunk(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("sim/midstream-error", stream=True))
        events = _events(await response.text())
    assert response.status == 200
    last = _payloads(events)[-1]
    assert last["error"]["code"] == 502
    assert last["choices"][0]["finish_reason"] == "error"
    assert "data: [DONE]" not in events


async def test_failure_before_first_token_is_a_plain_http_error(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("sim/503", stream=True))
        body = await response.json()
    assert response.status == 503
    assert body["error"]["code"] == 503


async def test_streamed_generation_is_recorded_as_streamed(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("openai/gpt-4o-mini", stream=True))
        generation_id = response.headers["X-Generation-Id"]
        found = await client.session.get(
            "/api/v1/generation",
            params={"id": generation_id},
            headers={"Authorization": "Bearer sk-or-v1-x"},
        )
        data = (await found.json())["data"]
    assert data["streamed"] is True
    assert data["cancelled"] is False


async def test_client_leaving_mid_stream_is_billed_for_what_it_got(
    settings: SimulatorSettings,
) -> None:
    slow = settings.model_copy(update={"latency_ms": 100})
    async with running(slow) as client:
        response = await client.session.post(
            "/api/v1/chat/completions",
            json=chat("openai/gpt-4o-mini", stream=True),
            headers={"Authorization": "Bearer sk-or-v1-x"},
        )
        assert await response.content.readline() == b": OPENROUTER PROCESSING\n"
        generation_id = response.headers["X-Generation-Id"]
        response.close()
        for _ in range(100):
            generation = client.state.generations.get(generation_id, float("inf"))
            if generation is not None:
                break
            await asyncio.sleep(0.02)
    assert generation is not None
    assert generation.is_cancelled is True
    assert generation.tokens_completion == 0


async def test_midstream_status_names_the_error_event_code(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("sim/midstream-429", stream=True))
        events = _events(await response.text())
    chunks = _payloads(events)
    contents = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert all(contents)  # content reached the client before the error
    last = chunks[-1]
    assert last["error"]["code"] == 429
    assert last["error"]["message"] == "Rate limit exceeded"
    assert last["error"]["metadata"]["error_type"] == "rate_limit_exceeded"
    assert last["error"]["metadata"]["provider_code"]
    assert last["choices"][0]["finish_reason"] == "error"
    assert "usage" not in last
    assert "data: [DONE]" not in events


async def test_midstream_server_error_is_generic_without_provider_code(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat("sim/midstream-500", stream=True))
        last = _payloads(_events(await response.text()))[-1]
    assert last["error"]["code"] == 500
    assert "provider_code" not in last["error"]["metadata"]
    assert last["error"]["metadata"]["error_type"] == "server"


async def test_midstream_error_without_stream_is_a_200_with_the_choice_error(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(
            chat("openai/gpt-4o-mini"), headers={"X-Sim-Behaviour": "midstream-503"}
        )
        body = await response.json()
    choice = body["choices"][0]
    assert response.status == 200
    assert choice["finish_reason"] == "error"
    assert choice["error"]["code"] == 503
    assert choice["message"]["content"]
    assert body["usage"]["completion_tokens"] == settings.completion_tokens // 2
