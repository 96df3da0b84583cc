"""The official `openai` SDK reads the simulator's answers: streams, parse(), tools."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import Enum

import httpx
import openai
from pydantic import BaseModel

from simulator.settings import SimulatorSettings
from tests.unit.simulator.harness import KEY, running

MODEL = "openai/gpt-4o-mini"


class Colour(Enum):
    RED = "red"
    GREEN = "green"


class Address(BaseModel):
    city: str
    postcode: str | None


class Person(BaseModel):
    name: str
    age: int
    favourite: Colour
    addresses: list[Address]
    scores: list[float]
    is_member: bool


class GetWeather(BaseModel):
    """Weather at a place."""

    city: str
    days: int


@asynccontextmanager
async def sdk(settings: SimulatorSettings) -> AsyncIterator[openai.AsyncOpenAI]:
    """An SDK client talking to a running simulator over its unix socket."""
    async with running(settings) as client:
        transport = httpx.AsyncHTTPTransport(uds=client.socket_path)
        async with httpx.AsyncClient(transport=transport) as http_client:
            yield openai.AsyncOpenAI(
                api_key=KEY,
                base_url="http://simulator/api/v1",
                http_client=http_client,
                max_retries=0,
            )


async def test_sdk_parses_a_streamed_completion_and_its_usage(
    settings: SimulatorSettings,
) -> None:
    async with sdk(settings) as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hello"}], stream=True
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Simulated reply to: Hello")
    finish = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finish[-1] == "stop"
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens == settings.completion_tokens
    assert (usage.model_extra or {})["cost"] > 0


async def test_sdk_parse_reads_json_schema_output_into_the_pydantic_model(
    settings: SimulatorSettings,
) -> None:
    async with sdk(settings) as client:
        completion = await client.chat.completions.parse(
            model=MODEL,
            messages=[{"role": "user", "content": "Describe a person"}],
            response_format=Person,
        )
    person = completion.choices[0].message.parsed
    assert isinstance(person, Person)
    assert isinstance(person.favourite, Colour)


async def test_sdk_parse_reads_tool_call_arguments(settings: SimulatorSettings) -> None:
    async with sdk(settings) as client:
        completion = await client.chat.completions.parse(
            model=MODEL,
            messages=[{"role": "user", "content": "Weather in Oslo?"}],
            tools=[openai.pydantic_function_tool(GetWeather)],
        )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "GetWeather"
    assert isinstance(call.function.parsed_arguments, GetWeather)


async def test_sdk_stream_helper_assembles_streamed_tool_calls(
    settings: SimulatorSettings,
) -> None:
    async with (
        sdk(settings) as client,
        client.chat.completions.stream(
            model=MODEL,
            messages=[{"role": "user", "content": "Weather in Oslo?"}],
            tools=[openai.pydantic_function_tool(GetWeather)],
        ) as stream,
    ):
        events = [event.type async for event in stream]
        completion = await stream.get_final_completion()
    assert "tool_calls.function.arguments.delta" in events
    (call,) = completion.choices[0].message.tool_calls or []
    assert isinstance(call.function.parsed_arguments, GetWeather)


async def test_sdk_stream_helper_parses_streamed_json_schema_output(
    settings: SimulatorSettings,
) -> None:
    async with (
        sdk(settings) as client,
        client.chat.completions.stream(
            model=MODEL,
            messages=[{"role": "user", "content": "Describe a person"}],
            response_format=Person,
        ) as stream,
    ):
        completion = await stream.get_final_completion()
    assert isinstance(completion.choices[0].message.parsed, Person)
