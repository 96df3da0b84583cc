"""`GET /v1/jobs/{id}/stream`: a job submitted with `stream: true` followed live; a
stand-in worker writes its events to the job's Redis Stream here."""

import asyncio
import json

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from broker_api.settings import ApiSettings
from shared.db.models import Job
from shared.job_streams import JobEnd
from tests.factories import make_job_body
from tests.integration.api.conftest import TenantCredentials
from tests.integration.api.test_chat_completions import RESULT
from tests.integration.api.test_chat_streaming import CHUNKS, play_worker
from tests.recording_enqueuer import RecordingEnqueuer

pytestmark = pytest.mark.anyio


@pytest.fixture
def api_settings(api_settings: ApiSettings) -> ApiSettings:
    return api_settings.model_copy(update={"helixq_stream_keepalive_s": 0.1})


def events(text: str) -> list[str]:
    return [e for e in text.split("\n\n") if e and not e.startswith(":")]


async def test_a_streamed_job_is_followed_from_its_status_to_its_tokens(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer, services
) -> None:
    submitted = await api.post(
        "/v1/jobs", json=make_job_body(stream=True), headers=tenant.headers
    )
    job_id = submitted.json()["id"]

    async def finish():
        await play_worker(
            enqueuer, services, wait_s=0.3, chunks=CHUNKS, end=JobEnd("succeeded")
        )

    response, _ = await asyncio.gather(
        api.get(f"/v1/jobs/{job_id}/stream", headers=tenant.headers), finish()
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events(response.text) == [
        'event: status\ndata: {"status": "queued"}',
        'event: status\ndata: {"status": "running"}',
        *[f"data: {c.decode()}" for c in CHUNKS],
        'event: status\ndata: {"status": "succeeded"}',
        "data: [DONE]",
    ]


async def test_a_finished_job_replays_its_answer_at_once(
    api, tenant: TenantCredentials, engine
) -> None:
    submitted = await api.post("/v1/jobs", json=make_job_body(), headers=tenant.headers)
    job_id = submitted.json()["id"]
    with Session(engine) as session, session.begin():
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status="succeeded", result=RESULT)
        )

    response = await asyncio.wait_for(
        api.get(f"/v1/jobs/{job_id}/stream", headers=tenant.headers), timeout=2
    )

    found = events(response.text)
    assert found[0] == 'event: status\ndata: {"status": "succeeded"}'
    assert found[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in found[1:-1]]
    assert (
        "".join(
            c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]
        )
        == "Hi!"
    )


async def test_a_running_job_submitted_without_stream_is_a_409(
    api, tenant: TenantCredentials
) -> None:
    submitted = await api.post("/v1/jobs", json=make_job_body(), headers=tenant.headers)
    job_id = submitted.json()["id"]

    response = await api.get(f"/v1/jobs/{job_id}/stream", headers=tenant.headers)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_not_streamed"
    assert f"GET /v1/jobs/{job_id}?wait=" in response.json()["error"]["message"]


async def test_another_tenants_job_cannot_be_followed(
    api, tenant: TenantCredentials, other_tenant: TenantCredentials
) -> None:
    submitted = await api.post(
        "/v1/jobs", json=make_job_body(stream=True), headers=tenant.headers
    )
    job_id = submitted.json()["id"]

    response = await api.get(f"/v1/jobs/{job_id}/stream", headers=other_tenant.headers)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"
