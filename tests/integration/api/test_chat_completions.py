"""`POST /v1/chat/completions` waits for its job; a stand-in worker finishes it here."""

import asyncio
import json
import uuid
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from shared.db.models import Job
from shared.redis_keys import JOBS_FINISHED_CHANNEL
from tests.factories import make_job_body
from tests.integration.api.conftest import TenantCredentials
from tests.recording_enqueuer import RecordingEnqueuer
from tests.services import Services

pytestmark = pytest.mark.anyio

RESULT = {
    "id": "gen-1-abc",
    "object": "chat.completion",
    "created": 1,
    "model": "openai/gpt-4o-mini",
    "provider": "OpenAI",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Hi!"},
        }
    ],
    "usage": {
        "prompt_tokens": 5,
        "completion_tokens": 2,
        "total_tokens": 7,
        "cost": 0.00001,
    },
}


async def finish_first_job(
    enqueuer: RecordingEnqueuer, engine: Engine, services: Services, **values: Any
) -> None:
    """Play the worker: wait for the publish, write the outcome, announce it."""
    while not enqueuer.sent:
        await asyncio.sleep(0.02)
    job_id = enqueuer.sent[0][0]
    with Session(engine) as session, session.begin():
        session.execute(update(Job).where(Job.id == job_id).values(**values))
    publisher = redis.Redis.from_url(services.redis_url)
    publisher.publish(JOBS_FINISHED_CHANNEL, str(job_id))
    publisher.close()


async def test_answers_the_openrouter_result_when_the_job_succeeds(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer, engine, services
) -> None:
    response, _ = await asyncio.gather(
        api.post("/v1/chat/completions", json=make_job_body(), headers=tenant.headers),
        finish_first_job(enqueuer, engine, services, status="succeeded", result=RESULT),
    )
    assert response.status_code == 200
    assert response.json() == RESULT
    assert uuid.UUID(response.headers["x-helixq-job-id"]) == enqueuer.sent[0][0]
    assert enqueuer.priorities == [0]  # interactive


async def test_streams_the_result_as_openai_chunks(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer, engine, services
) -> None:
    response, _ = await asyncio.gather(
        api.post(
            "/v1/chat/completions",
            json=make_job_body(stream=True),
            headers=tenant.headers,
        ),
        finish_first_job(enqueuer, engine, services, status="succeeded", result=RESULT),
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [
        line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")
    ]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(
        c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]
    )
    assert text == "Hi!"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["cost"] == 0.00001


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", make_job_body()),
        ("/v1/embeddings", {"input": "x"}),
    ],
)
async def test_a_failed_job_answers_the_matching_status(
    api,
    tenant: TenantCredentials,
    enqueuer: RecordingEnqueuer,
    engine,
    services,
    path,
    body,
) -> None:
    response, _ = await asyncio.gather(
        api.post(path, json=body, headers=tenant.headers),
        finish_first_job(
            enqueuer,
            engine,
            services,
            status="failed",
            error_code="upstream_rate_limited",
            error_message="Rate limit exceeded",
        ),
    )
    assert response.status_code == 429
    assert response.json()["error"] == {
        "code": "upstream_rate_limited",
        "message": "Rate limit exceeded",
        "details": {},
    }


async def test_unknown_fields_are_kept_and_bad_ones_are_422(
    api, tenant: TenantCredentials
) -> None:
    response = await api.post(
        "/v1/chat/completions", json=make_job_body(top_p=0), headers=tenant.headers
    )
    assert response.status_code == 422


@pytest.mark.timeout(15)
@pytest.mark.parametrize("stream", [False, True])
async def test_a_retry_with_the_same_idempotency_key_answers_the_job_that_ran(
    api,
    tenant: TenantCredentials,
    enqueuer: RecordingEnqueuer,
    engine,
    services,
    stream,
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": f"chat-retry-{stream}"}
    body = make_job_body(stream=stream)
    first, _ = await asyncio.gather(
        api.post("/v1/chat/completions", json=body, headers=headers),
        finish_first_job(enqueuer, engine, services, status="succeeded", result=RESULT),
    )

    again = await api.post("/v1/chat/completions", json=body, headers=headers)

    assert len(enqueuer.sent) == 1  # no second job, no second paid call
    job_id = first.headers["x-helixq-job-id"]
    assert again.headers["x-helixq-job-id"] == job_id
    assert again.text == first.text
    assert again.status_code == first.status_code == 200
