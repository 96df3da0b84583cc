"""`response_format`: JSON that validates against the schema, or a JSON object."""

import json

import jsonschema_rs
import pytest

from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import chat, running, sse_payloads
from tests.unit.simulator.schemas import ORDER_SCHEMA

RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "order", "strict": True, "schema": ORDER_SCHEMA},
}
MODEL = "openai/gpt-4o-mini"


async def test_json_schema_content_validates_and_repeats_for_the_same_prompt(
    settings: SimulatorSettings,
) -> None:
    request = chat(MODEL, "An order please", response_format=RESPONSE_FORMAT, seed=3)
    async with running(settings) as client:
        first = await (await client.complete(request)).json()
        again = await (await client.complete(request)).json()
        other = await (
            await client.complete(
                {**request, "messages": [chat(MODEL, "Other")["messages"][0]]}
            )
        ).json()
    content = first["choices"][0]["message"]["content"]
    jsonschema_rs.validate(ORDER_SCHEMA, json.loads(content))
    assert again["choices"][0]["message"]["content"] == content
    assert other["choices"][0]["message"]["content"] != content
    assert first["choices"][0]["finish_reason"] == "stop"
    assert first["usage"]["completion_tokens"] == -(-len(content) // 4)


async def test_streamed_json_schema_content_validates(
    settings: SimulatorSettings,
) -> None:
    request = chat(MODEL, response_format=RESPONSE_FORMAT, stream=True)
    async with running(settings) as client:
        response = await client.complete(request)
        chunks = sse_payloads(await response.text())
    content = "".join(
        chunk["choices"][0]["delta"].get("content") or ""
        for chunk in chunks
        if chunk["choices"]
    )
    jsonschema_rs.validate(ORDER_SCHEMA, json.loads(content))


async def test_json_object_content_is_a_json_object(
    settings: SimulatorSettings,
) -> None:
    request = chat(MODEL, "Hi", response_format={"type": "json_object"})
    async with running(settings) as client:
        body = await (await client.complete(request)).json()
    assert isinstance(json.loads(body["choices"][0]["message"]["content"]), dict)


@pytest.mark.parametrize(
    ("response_format", "message"),
    [
        ("json", "response_format must be an object"),
        ({"type": "yaml"}, "response_format.type"),
        ({"type": "json_schema"}, "response_format.json_schema"),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": []}},
            "response_format.json_schema.schema",
        ),
        (
            {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"$ref": "#/nowhere"}},
            },
            "#/nowhere",
        ),
    ],
)
async def test_malformed_response_format_is_a_400_naming_the_field(
    settings: SimulatorSettings, response_format: object, message: str
) -> None:
    async with running(settings) as client:
        response = await client.complete(chat(MODEL, response_format=response_format))
        body = await response.json()
    assert response.status == 400
    assert message in body["error"]["message"]
