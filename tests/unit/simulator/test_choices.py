"""`n > 1`: as many choices, each billed, streamed with their own index."""

import pytest

from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import chat, running, sse_payloads

MODEL = "openai/gpt-4o-mini"


async def test_n_returns_that_many_different_choices(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        body = await (await client.complete(chat(MODEL, "Hi", n=3))).json()
    choices = body["choices"]
    assert [choice["index"] for choice in choices] == [0, 1, 2]
    texts = [choice["message"]["content"] for choice in choices]
    assert texts[0].startswith("Simulated reply to: Hi")
    assert len(set(texts)) == 3
    assert body["usage"]["completion_tokens"] == 3 * settings.completion_tokens


async def test_streamed_choices_each_finish_under_their_index(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat(MODEL, "Hi", n=2, stream=True))
        chunks = sse_payloads(await response.text())
    texts = {0: "", 1: ""}
    finished = set()
    for chunk in chunks:
        for choice in chunk["choices"]:
            texts[choice["index"]] += choice["delta"].get("content") or ""
            if choice["finish_reason"]:
                finished.add(choice["index"])
    assert finished == {0, 1}
    assert texts[0] != texts[1]
    assert all(len(text) == 4 * settings.completion_tokens for text in texts.values())
    assert chunks[-1]["usage"]["completion_tokens"] == 2 * settings.completion_tokens


@pytest.mark.parametrize("n", [0, -1, "2", 2.5, True, 129])
async def test_n_outside_1_to_128_is_a_400(
    settings: SimulatorSettings, n: object
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat(MODEL, n=n))
        body = await response.json()
    assert response.status == 400
    assert "n must be an integer between 1 and 128" in body["error"]["message"]
