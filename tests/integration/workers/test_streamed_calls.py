"""Streaming jobs against real Postgres and Redis, OpenRouter's stream mocked: the
chunks relayed to the job's Redis Stream, the answer assembled on the job's row,
failover before the first chunk, the mid-stream error after it, and the client
that leaves."""

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from shared import redis_keys
from shared.job_streams import EntryKind, JobEnd, read_entry
from shared.jobs import AttemptOutcome, JobStatus
from tests.factories import make_job_body
from tests.integration.workers.conftest import fetch_attempts, fetch_job
from workers.jobs.endings import OutcomeKind

pytestmark = pytest.mark.timeout(30)

HEAD = {"id": "gen-s1", "object": "chat.completion.chunk", "created": 1}
HEAD |= {"model": "openai/gpt-4o-mini", "provider": "OpenAI"}
USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
USAGE |= {"cost": 0.0000042}


def chunk(delta=None, finish=None, **extra) -> bytes:
    choices = (
        [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    )
    return json.dumps({**HEAD, "choices": choices, **extra}).encode()


ANSWER = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"reasoning": "think "}),
    chunk({"content": "Hel"}),
    chunk({"content": "lo"}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get", "arguments": '{"a"'},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
    chunk({}, "tool_calls"),
    chunk(usage=USAGE),
]


class SlowStream(httpx.AsyncByteStream):
    """An SSE body: `wait_s` before the first event, `interval_s` between events;
    records whether the client closed it."""

    def __init__(self, events, *, wait_s=0.0, interval_s=0.0, done=True):
        self.events = events
        self.wait_s = wait_s
        self.interval_s = interval_s
        self.done = done
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b": OPENROUTER PROCESSING\n\n"
        await asyncio.sleep(self.wait_s)
        for event in self.events:
            yield b"data: " + event + b"\n\n"
            await asyncio.sleep(self.interval_s)
        if self.done:
            yield b"data: [DONE]\n\n"

    async def aclose(self) -> None:
        self.closed = True


def sse(stream: SlowStream) -> httpx.Response:
    return httpx.Response(
        200, headers={"Content-Type": "text/event-stream"}, stream=stream
    )


def stream_entries(redis_client, job_id):
    entries = redis_client.xrange(redis_keys.job_stream(str(job_id)))
    return [read_entry(fields) for _id, fields in entries]


@pytest.fixture
def streamed_job(make_job, engine):
    def insert(route=None):
        job_id = make_job(request=json.dumps(make_job_body(stream=True)))
        if route is not None:
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "UPDATE jobs SET route = CAST(:route AS jsonb) WHERE id = :id"
                    ),
                    {"route": json.dumps(route), "id": job_id},
                )
        return job_id

    return insert


def _run(ctx, job_id):
    return ctx.loop.run(ctx.completions.run(job_id))


def test_each_chunk_is_relayed_and_the_job_keeps_the_assembled_answer(
    worker_process, openrouter_mock, streamed_job, engine, redis_client
):
    route = openrouter_mock.post("/chat/completions").mock(
        return_value=sse(SlowStream(ANSWER, wait_s=0.05))
    )
    job_id = streamed_job()

    outcome = _run(worker_process, job_id)

    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert json.loads(route.calls[0].request.content)["stream"] is True
    entries = stream_entries(redis_client, job_id)
    assert entries[0] == (EntryKind.STATUS, b"running")
    assert [data for kind, data in entries if kind is EntryKind.CHUNK] == ANSWER
    assert entries[-1] == (EntryKind.END, JobEnd("succeeded").encode())
    job = fetch_job(engine, job_id)
    assert job.status == JobStatus.SUCCEEDED
    (choice,) = job.result["choices"]
    assert choice["message"]["content"] == "Hello"
    assert choice["message"]["reasoning"] == "think "
    assert choice["message"]["tool_calls"] == [
        {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "get", "arguments": '{"a": 1}'},
        }
    ]
    assert choice["finish_reason"] == "tool_calls"
    assert job.result["usage"] == USAGE
    assert (job.prompt_tokens, job.completion_tokens) == (12, 5)
    (attempt,) = fetch_attempts(engine, job_id)
    assert attempt.first_token_ms is not None
    assert 40 <= attempt.first_token_ms <= attempt.latency_ms


def test_a_candidate_silent_past_the_first_token_timeout_gives_way_to_the_next(
    worker_process, openrouter_mock, streamed_job, engine, tenant, redis_client
):
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE tenants SET model_substitution = 'on_failure' WHERE id = :id"),
            {"id": tenant["id"]},
        )
    silent = SlowStream(ANSWER, wait_s=5)
    route = openrouter_mock.post("/chat/completions").mock(
        side_effect=[sse(silent), sse(SlowStream(ANSWER))]
    )
    job_id = streamed_job(route={"first_token_timeout_s": 0.3})

    outcome = _run(worker_process, job_id)

    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert len(route.calls) == 2
    assert silent.closed
    first, second = fetch_attempts(engine, job_id)
    assert first.error_code == "upstream_first_token_timeout"
    assert second.outcome == AttemptOutcome.SUCCEEDED
    chunks = [
        d for k, d in stream_entries(redis_client, job_id) if k is EntryKind.CHUNK
    ]
    assert chunks == ANSWER  # one clean stream: nothing of the silent candidate


def test_an_error_after_the_first_chunk_ends_the_stream_and_fails_with_the_partial(
    worker_process, openrouter_mock, streamed_job, engine, tenant, redis_client
):
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE tenants SET model_substitution = 'on_failure' WHERE id = :id"),
            {"id": tenant["id"]},
        )
    error = chunk(
        {"content": ""},
        "error",
        error={"code": 502, "message": "Provider returned error"},
    )
    route = openrouter_mock.post("/chat/completions").mock(
        return_value=sse(SlowStream([*ANSWER[:4], error], done=False))
    )
    job_id = streamed_job()

    outcome = _run(worker_process, job_id)

    assert outcome.kind is OutcomeKind.FAILED
    assert len(route.calls) == 1  # the client saw part of it: no other candidate
    chunks = [
        d for k, d in stream_entries(redis_client, job_id) if k is EntryKind.CHUNK
    ]
    assert chunks == [*ANSWER[:4], error]
    job = fetch_job(engine, job_id)
    assert job.status == JobStatus.FAILED
    assert job.error_code == "upstream_stream_error"
    assert job.result["choices"][0]["message"]["content"] == "Hello"


def test_a_client_that_leaves_closes_the_call_and_cancels_the_job(
    worker_process, openrouter_mock, make_job, engine, redis_client, priced_model
):
    word = json.loads(chunk({"content": "word "})) | {"model": priced_model}
    many = [json.dumps(word).encode() for _ in range(200)]
    body = SlowStream(many, interval_s=0.02)
    openrouter_mock.post("/chat/completions").mock(return_value=sse(body))
    request = make_job_body(stream=True, model=priced_model)
    job_id = make_job(request=json.dumps(request))

    async def leave_soon():
        await asyncio.sleep(0.5)
        redis_client.set(redis_keys.job_stream_cancel(str(job_id)), b"1")

    async def run_and_leave():
        leaving = asyncio.create_task(leave_soon())
        outcome = await worker_process.completions.run(job_id)
        await leaving
        return outcome

    outcome = worker_process.loop.run(run_and_leave())

    assert outcome.kind is OutcomeKind.CANCELLED
    assert body.closed
    job = fetch_job(engine, job_id)
    assert job.status == JobStatus.CANCELLED
    content = job.result["choices"][0]["message"]["content"]
    assert 0 < len(content) < len("word ") * 200
    usage = job.result["usage"]
    assert usage["is_estimate"] is True
    assert usage["completion_tokens"] == job.completion_tokens > 0
    (attempt,) = fetch_attempts(engine, job_id)
    assert attempt.outcome == AttemptOutcome.CANCELLED
    assert attempt.cost_usd is not None
    assert attempt.cost_usd == job.cost_usd > 0
    assert stream_entries(redis_client, job_id)[-1] == (
        EntryKind.END,
        JobEnd("cancelled").encode(),
    )
