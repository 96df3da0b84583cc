"""`tools`: the model answers with `tool_calls`, streamed with `index` on each delta."""

import json
from typing import Any

import jsonschema_rs
import pytest

from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import chat, running, sse_payloads

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "location": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["location", "unit"],
    "additionalProperties": False,
}
SEARCH_PARAMETERS = {
    "type": "object",
    "properties": {"query": {"type": "string"}, "tags": {"type": "array"}},
    "required": ["query"],
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather at a place",
            "parameters": WEATHER_PARAMETERS,
        },
    },
    {
        "type": "function",
        "function": {"name": "search", "parameters": SEARCH_PARAMETERS},
    },
]
MODEL = "openai/gpt-4o-mini"


def _assembled_tool_calls(chunks: list[dict[str, Any]]) -> dict[int, dict[str, str]]:
    """Join streamed tool-call deltas by their index, as SDKs do."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            for delta in choice["delta"].get("tool_calls") or []:
                call = calls.setdefault(delta["index"], {"arguments": ""})
                if "id" in delta:
                    call["id"] = delta["id"]
                function = delta.get("function") or {}
                if "name" in function:
                    call["name"] = function["name"]
                call["arguments"] += function.get("arguments", "")
    return calls


async def test_tools_are_answered_with_a_call_whose_arguments_fit_the_schema(
    settings: SimulatorSettings,
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat(MODEL, "Weather in Oslo?", tools=TOOLS))
        body = await response.json()
    choice = body["choices"][0]
    assert response.status == 200
    assert choice["finish_reason"] == "tool_calls"
    assert choice["native_finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    jsonschema_rs.validate(
        WEATHER_PARAMETERS, json.loads(call["function"]["arguments"])
    )
    assert body["usage"]["completion_tokens"] >= 1


async def test_a_tool_result_is_answered_with_text(settings: SimulatorSettings) -> None:
    messages = [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "12 degrees"},
    ]
    body = {"model": MODEL, "messages": messages, "tools": TOOLS}
    async with running(settings) as client:
        choice = (await (await client.complete(body)).json())["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"]
    assert "tool_calls" not in choice["message"]


@pytest.mark.parametrize(
    ("tool_choice", "names"),
    [
        ("none", []),
        ("auto", ["get_weather"]),
        ("required", ["get_weather"]),
        ({"type": "function", "function": {"name": "search"}}, ["search"]),
    ],
)
async def test_tool_choice_decides_which_tool_is_called(
    settings: SimulatorSettings, tool_choice: object, names: list[str]
) -> None:
    request = chat(MODEL, tools=TOOLS, tool_choice=tool_choice)
    async with running(settings) as client:
        message = (await (await client.complete(request)).json())["choices"][0][
            "message"
        ]
    called = [call["function"]["name"] for call in message.get("tool_calls") or []]
    assert called == names


async def test_parallel_tool_calls_call_every_tool(settings: SimulatorSettings) -> None:
    request = chat(MODEL, tools=TOOLS, parallel_tool_calls=True)
    async with running(settings) as client:
        message = (await (await client.complete(request)).json())["choices"][0][
            "message"
        ]
    assert [call["function"]["name"] for call in message["tool_calls"]] == [
        "get_weather",
        "search",
    ]
    assert len({call["id"] for call in message["tool_calls"]}) == 2


async def test_streamed_tool_calls_carry_index_and_match_the_plain_answer(
    settings: SimulatorSettings,
) -> None:
    request = chat(MODEL, "Weather?", tools=TOOLS, parallel_tool_calls=True)
    async with running(settings) as client:
        plain = (await (await client.complete(request)).json())["choices"][0]
        response = await client.complete({**request, "stream": True})
        chunks = sse_payloads(await response.text())
    deltas = [
        delta
        for chunk in chunks
        for choice in chunk["choices"]
        for delta in choice["delta"].get("tool_calls") or []
    ]
    assert len(deltas) > 2  # arguments arrive a token at a time
    assert all(isinstance(delta["index"], int) for delta in deltas)
    calls = _assembled_tool_calls(chunks)
    assert [calls[index]["name"] for index in sorted(calls)] == [
        "get_weather",
        "search",
    ]
    for index, call in calls.items():
        expected = plain["message"]["tool_calls"][index]
        assert call["id"] == expected["id"]
        assert call["arguments"] == expected["function"]["arguments"]
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finish[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"tools": {"name": "x"}}, "tools must be an array"),
        ({"tools": [{"type": "function"}]}, "tools[0].function"),
        (
            {"tools": [{"type": "function", "function": {"name": "a b"}}]},
            "tools[0].function.name",
        ),
        (
            {"tools": TOOLS, "tool_choice": "sometimes"},
            "tool_choice must be",
        ),
        (
            {
                "tools": TOOLS,
                "tool_choice": {"type": "function", "function": {"name": "nope"}},
            },
            "nope",
        ),
        ({"tool_choice": "required"}, "tool_choice needs tools"),
    ],
)
async def test_malformed_tools_are_a_400_naming_the_field(
    settings: SimulatorSettings, extra: dict[str, Any], message: str
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat(MODEL, **extra))
        body = await response.json()
    assert response.status == 400
    assert body["error"]["code"] == 400
    assert message in body["error"]["message"]
    assert client.state.ledger.total == 0
