"""The simulator process streams on a real socket with the HELIXQ_SIM_* pacing, and
its call log shows when a client closed the stream."""

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.simulator.conftest import (
    COMPLETION_TOKENS,
    LATENCY_MS,
    TOKEN_INTERVAL_MS,
)

AUTH = {"Authorization": "Bearer sk-or-v1-integration"}
PROCESSING = ": OPENROUTER PROCESSING"


def _body(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "openai/gpt-4o-mini",
        "messages": [{"role": "user", "content": text}],
        "stream": True,
        **extra,
    }


@pytest.fixture
def client(simulator_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator_url, trust_env=False, timeout=10) as client:
        client.post("/_sim/reset").raise_for_status()
        yield client


def _cancelled_calls(client: httpx.Client, within_s: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        calls = client.get("/_sim/calls", params={"detail": 1}).json()["calls"]
        cancelled = [call for call in calls if call["cancelled"]]
        if cancelled:
            return cancelled
        time.sleep(0.02)
    return []


def test_tokens_follow_the_latency_one_interval_apart(client: httpx.Client) -> None:
    started = time.monotonic()
    comments, content_times = 0, []
    with client.stream(
        "POST", "/api/v1/chat/completions", json=_body("Pace me"), headers=AUTH
    ) as response:
        for line in response.iter_lines():
            if line == PROCESSING and not content_times:
                comments += 1
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    content_times.append(time.monotonic())
    assert len(content_times) == COMPLETION_TOKENS
    for token, arrived in enumerate(content_times):
        assert arrived - started >= (LATENCY_MS + token * TOKEN_INTERVAL_MS) / 1000
    spread_s = content_times[-1] - content_times[0]
    assert spread_s >= 0.5 * (COMPLETION_TOKENS - 1) * TOKEN_INTERVAL_MS / 1000
    assert comments >= 3


def test_non_streaming_answer_arrives_when_the_last_token_would(
    client: httpx.Client,
) -> None:
    started = time.monotonic()
    response = client.post(
        "/api/v1/chat/completions", json=_body("Whole", stream=False), headers=AUTH
    )
    elapsed_s = time.monotonic() - started
    assert response.status_code == 200
    expected_s = (LATENCY_MS + (COMPLETION_TOKENS - 1) * TOKEN_INTERVAL_MS) / 1000
    assert elapsed_s >= expected_s


def test_closing_while_it_thinks_shows_in_the_call_log_within_a_second(
    client: httpx.Client,
) -> None:
    with client.stream(
        "POST",
        "/api/v1/chat/completions",
        json=_body("Leave early"),
        headers={**AUTH, "X-Sim-Behaviour": "slow"},
    ) as response:
        assert next(response.iter_lines()) == PROCESSING
        generation_id = response.headers["X-Generation-Id"]
    closed_at = time.time()
    (call,) = _cancelled_calls(client, within_s=2)
    assert call["ts"] - closed_at < 1
    assert call["completion_tokens"] == 0
    generation = client.get(
        "/api/v1/generation", params={"id": generation_id}, headers=AUTH
    ).json()["data"]
    assert generation["cancelled"] is True
    assert generation["streamed"] is True


def test_closing_mid_stream_bills_the_tokens_generated(client: httpx.Client) -> None:
    with client.stream(
        "POST", "/api/v1/chat/completions", json=_body("Leave midway"), headers=AUTH
    ) as response:
        generation_id = response.headers["X-Generation-Id"]
        contents = 0
        for line in response.iter_lines():
            contents += '"content": "' in line and '"content": ""' not in line
            if contents == 3:
                break
    (call,) = _cancelled_calls(client, within_s=2)
    assert 3 <= call["completion_tokens"] < COMPLETION_TOKENS
    generation = client.get(
        "/api/v1/generation", params={"id": generation_id}, headers=AUTH
    ).json()["data"]
    key = client.get("/api/v1/key", headers=AUTH).json()["data"]
    assert generation["tokens_completion"] == call["completion_tokens"]
    assert key["usage"] == generation["total_cost"]
