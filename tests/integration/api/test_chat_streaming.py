"""`POST /v1/chat/completions` with `stream: true` relays the job's live events; a
stand-in worker writes them to the job's Redis Stream here."""

import asyncio
import json

import pytest
import redis
from sqlalchemy import update
from sqlalchemy.orm import Session

from broker_api.settings import ApiSettings
from shared.db.models import Job
from shared.job_streams import EntryKind, JobEnd, entry
from shared.redis_keys import job_stream
from tests.factories import make_job_body
from tests.integration.api.conftest import TenantCredentials
from tests.recording_enqueuer import RecordingEnqueuer

pytestmark = pytest.mark.anyio

CHUNKS = [
    json.dumps({"id": "gen-1", "choices": [{"index": 0, "delta": d}]}).encode()
    for d in ({"role": "assistant", "content": ""}, {"content": "Hi"}, {"content": "!"})
] + [json.dumps({"id": "gen-1", "choices": [], "usage": {"cost": 0.1}}).encode()]


@pytest.fixture
def api_settings(api_settings: ApiSettings) -> ApiSettings:
    return api_settings.model_copy(update={"helixq_stream_keepalive_s": 0.1})


async def play_worker(enqueuer, services, *, wait_s, chunks, end):
    """Wait for the publish and `wait_s`, then write the job's live events."""
    while not enqueuer.sent:
        await asyncio.sleep(0.01)
    job_id = str(enqueuer.sent[0][0])
    client = redis.Redis.from_url(services.redis_url)
    key = job_stream(job_id)
    client.xadd(key, entry(EntryKind.STATUS, b"running"))
    await asyncio.sleep(wait_s)
    for data in chunks:
        client.xadd(key, entry(EntryKind.CHUNK, data))
    client.xadd(key, entry(EntryKind.END, end.encode()))
    client.close()
    return job_id


async def test_keepalives_while_the_job_waits_then_each_chunk_then_done(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer, services
) -> None:
    response, job_id = await asyncio.gather(
        api.post(
            "/v1/chat/completions",
            json=make_job_body(stream=True),
            headers=tenant.headers,
        ),
        play_worker(
            enqueuer, services, wait_s=0.5, chunks=CHUNKS, end=JobEnd("succeeded")
        ),
    )
    assert response.status_code == 200
    assert response.headers["x-helixq-job-id"] == job_id
    events = response.text.split("\n\n")
    assert events[-1] == ""
    waiting = [e for e in events if e.startswith(":")]
    assert len(waiting) >= 2
    assert set(waiting) == {": OPENROUTER PROCESSING"}
    assert events.index(waiting[-1]) < events.index("data: " + CHUNKS[0].decode())
    data = [e.removeprefix("data: ") for e in events if e.startswith("data: ")]
    assert data == [c.decode() for c in CHUNKS] + ["[DONE]"]


async def test_a_job_that_fails_before_the_answer_starts_is_a_plain_http_error(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer, engine, services
) -> None:
    async def fail_job():
        while not enqueuer.sent:
            await asyncio.sleep(0.01)
        job_id = enqueuer.sent[0][0]
        with Session(engine) as session, session.begin():
            session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(
                    status="failed",
                    error_code="upstream_bad_request",
                    error_message="bad",
                )
            )
        await play_worker(enqueuer, services, wait_s=0, chunks=[], end=JobEnd("failed"))

    response, _ = await asyncio.gather(
        api.post(
            "/v1/chat/completions",
            json=make_job_body(stream=True),
            headers=tenant.headers,
        ),
        fail_job(),
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "upstream_bad_request"


async def test_a_failure_after_keepalives_is_the_midstream_error_event(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer, engine, services
) -> None:
    async def mark_failed():
        while not enqueuer.sent:
            await asyncio.sleep(0.01)
        with Session(engine) as session, session.begin():
            session.execute(
                update(Job)
                .where(Job.id == enqueuer.sent[0][0])
                .values(
                    status="failed",
                    error_code="upstream_unavailable",
                    error_message="down",
                )
            )

    async def late_failure():
        await asyncio.sleep(0.3)
        await mark_failed()
        await play_worker(
            enqueuer, services, wait_s=0.4, chunks=[], end=JobEnd("failed")
        )

    response, _ = await asyncio.gather(
        api.post(
            "/v1/chat/completions",
            json=make_job_body(stream=True),
            headers=tenant.headers,
        ),
        late_failure(),
    )
    assert response.status_code == 200
    events = [e for e in response.text.split("\n\n") if e.startswith("data: ")]
    (error,) = [json.loads(e.removeprefix("data: ")) for e in events]
    assert error["error"]["message"] == "down"
    assert error["choices"][0]["finish_reason"] == "error"


STREAMS_AT_ONCE = 120  # past redis-py's default pool of 100 connections


async def test_more_streams_at_once_than_a_default_redis_pool_all_end_cleanly(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer, services
) -> None:
    async def play_every_worker():
        while len(enqueuer.sent) < STREAMS_AT_ONCE:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # every client now waits on its job's stream
        client = redis.Redis.from_url(services.redis_url)
        for job_id, *_ in enqueuer.sent:
            key = job_stream(str(job_id))
            client.xadd(key, entry(EntryKind.STATUS, b"running"))
            for data in CHUNKS:
                client.xadd(key, entry(EntryKind.CHUNK, data))
            client.xadd(key, entry(EntryKind.END, JobEnd("succeeded").encode()))
        client.close()

    def stream():
        return api.post(
            "/v1/chat/completions",
            json=make_job_body(stream=True),
            headers=tenant.headers,
        )

    *responses, _ = await asyncio.gather(
        *(stream() for _ in range(STREAMS_AT_ONCE)), play_every_worker()
    )
    assert [r.status_code for r in responses] == [200] * STREAMS_AT_ONCE
    assert all(r.text.endswith("data: [DONE]\n\n") for r in responses)
