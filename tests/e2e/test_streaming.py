"""Real token streaming through the queue, with the official `openai` SDK against a
simulator that thinks for 300 ms and sends a token every 40 ms."""

import time
from collections.abc import Iterator

import httpx
import openai
import pytest
import redis
from pydantic import BaseModel
from sqlalchemy import Engine, create_engine

from shared.db.session import psycopg_url
from tests.e2e.conftest import Client, Stack, _tenant_client, own_stack
from tests.polling import wait_until
from tests.services import Services, separate_services

pytestmark = pytest.mark.timeout(120)

LATENCY_S = 0.3
TOKEN_INTERVAL_S = 0.04
PROMPT = [{"role": "user", "content": "Tell me a story about queues " * 4}]


@pytest.fixture(scope="module")
def paced_services(services: Services) -> Services:
    """Its own database and Redis index: the other stack's worker and sweeps, when
    running, must not take these jobs to their unpaced simulator."""
    paced = separate_services(services, "paced")
    redis.Redis.from_url(paced.redis_url).flushdb()
    return paced


@pytest.fixture(scope="module")
def paced_engine(paced_services: Services) -> Iterator[Engine]:
    engine = create_engine(psycopg_url(paced_services.database_url))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def paced_stack(paced_services: Services) -> Iterator[Stack]:
    """Simulator, API and worker with OpenRouter's pacing: latency, then tokens."""
    env = {"HELIXQ_SIM_LATENCY_MS": "300", "HELIXQ_SIM_TOKEN_INTERVAL_MS": "40"}
    with own_stack(paced_services, "paced", env) as stack:
        yield stack


@pytest.fixture
def client(paced_engine: Engine, paced_stack: Stack) -> Iterator[Client]:
    tenant = _tenant_client(paced_engine, paced_stack)
    yield tenant
    tenant.http.close()


def sdk(stack: Stack, client: Client) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=client.key, timeout=30)


def content_arrivals(stream, started_s: float) -> list[float]:
    """Seconds from `started_s` to each chunk that carries content."""
    return [
        time.monotonic() - started_s
        for chunk in stream
        if chunk.choices and chunk.choices[0].delta.content
    ]


def direct_first_token_s(stack: Stack) -> float:
    """When a direct streaming client gets its first content from the simulator."""
    direct = openai.OpenAI(
        base_url=f"{stack.simulator_url}/api/v1", api_key="sk-or-v1-direct"
    )
    started_s = time.monotonic()
    stream = direct.chat.completions.create(
        model="openai/gpt-4o-mini", messages=PROMPT, max_tokens=40, stream=True
    )
    return content_arrivals(stream, started_s)[0]


def test_tokens_arrive_as_the_upstream_generates_them(paced_stack, client):
    api = sdk(paced_stack, client)
    # A new tenant's queue is consumed once the worker has seen it appear.
    list(
        api.chat.completions.create(
            model="openai/gpt-4o-mini", messages=PROMPT, max_tokens=2, stream=True
        )
    )
    upstream_first_s = direct_first_token_s(paced_stack)
    started_s = time.monotonic()
    stream = api.chat.completions.create(
        model="openai/gpt-4o-mini", messages=PROMPT, max_tokens=40, stream=True
    )
    arrivals = content_arrivals(stream, started_s)

    assert arrivals[0] - upstream_first_s < 0.1
    assert len(arrivals) >= 20
    # Spread over the completion, as generated: not all at the end.
    generation_s = (len(arrivals) - 1) * TOKEN_INTERVAL_S
    assert arrivals[-1] - arrivals[0] >= 0.6 * generation_s
    middle = arrivals[len(arrivals) // 2]
    assert arrivals[0] + 0.2 * generation_s <= middle <= arrivals[-1]


class Weather(BaseModel):
    city: str
    celsius: int


def test_streamed_tool_calls_and_structured_output_parse_with_the_sdk(
    paced_stack, client
):
    api = sdk(paced_stack, client)
    with api.chat.completions.stream(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[openai.pydantic_function_tool(Weather)],
    ) as stream:
        final = stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls or []
    assert isinstance(call.function.parsed_arguments, Weather)

    with api.chat.completions.stream(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "Weather in Paris as JSON"}],
        response_format=Weather,
    ) as stream:
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.parsed, Weather)


def test_a_client_that_leaves_closes_the_upstream_call_and_cancels_the_job(
    paced_stack, client
):
    raw = sdk(paced_stack, client).chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini", messages=PROMPT, max_tokens=400, stream=True
    )
    job_id = raw.headers["x-helixq-job-id"]
    stream = raw.parse()
    seen = 0
    for chunk in stream:
        seen += bool(chunk.choices and chunk.choices[0].delta.content)
        if seen == 3:
            break
    stream.close()
    left_s = time.monotonic()

    def upstream_closed() -> bool:
        calls = httpx.get(
            f"{paced_stack.simulator_url}/_sim/calls", params={"detail": 1}
        ).json()
        mine = [c for c in calls["calls"] if c.get("job_id") == job_id]
        return bool(mine) and all(c["cancelled"] for c in mine)

    wait_until(upstream_closed, timeout_s=1.0, what="the upstream call to close")
    assert time.monotonic() - left_s <= 1.0

    def job_cancelled() -> bool:
        return client.http.get(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"

    wait_until(job_cancelled, timeout_s=5, what="the job to be cancelled")
    job = client.http.get(f"/v1/jobs/{job_id}").json()
    assert job["usage"]["completion_tokens"] > 0
    assert job["usage"]["completion_tokens"] < 400
    assert job["result"]["usage"]["is_estimate"] is True
    (attempt,) = job["attempts"]
    assert attempt["outcome"] == "cancelled"


def test_a_silent_candidate_gives_way_and_the_client_sees_one_clean_stream(
    paced_stack, client
):
    stream = sdk(paced_stack, client).chat.completions.create(
        model="sim/hang",
        messages=PROMPT,
        max_tokens=20,
        stream=True,
        extra_body={
            "models": ["openai/gpt-4o-mini"],
            "route": {"first_token_timeout_s": 0.5},
        },
    )
    chunks = list(stream)
    ids = {chunk.id for chunk in chunks}
    assert len(ids) == 1  # one upstream generation, nothing of the silent one
    assert chunks[-1].usage is not None
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
