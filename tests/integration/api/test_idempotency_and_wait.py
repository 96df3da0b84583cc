"""Idempotency-Key on job submission, and long polling a job until it finishes."""

import asyncio
import time
import uuid

import pytest
import redis
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from shared.db.models import Job
from shared.redis_keys import JOBS_FINISHED_CHANNEL
from tests.factories import make_job_body
from tests.integration.api.conftest import TenantCredentials
from tests.recording_enqueuer import RecordingEnqueuer
from tests.services import Services

pytestmark = pytest.mark.anyio


def _jobs_of(engine: Engine, custom_id: str) -> int:
    with Session(engine) as session:
        count: int = session.scalar(
            select(func.count()).select_from(Job).where(Job.custom_id == custom_id)
        )
        return count


async def test_same_key_and_body_answer_the_same_job(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "order-17"}
    body = make_job_body()
    first = await api.post("/v1/jobs", json=body, headers=headers)
    second = await api.post("/v1/jobs", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert len(enqueuer.sent) == 1


async def test_same_key_with_another_body_is_422(
    api, tenant: TenantCredentials
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "order-18"}
    await api.post("/v1/jobs", json=make_job_body(), headers=headers)
    other = await api.post("/v1/jobs", json=make_job_body(), headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"


async def test_keys_are_scoped_per_tenant(
    api, tenant: TenantCredentials, other_tenant: TenantCredentials
) -> None:
    body = make_job_body()
    mine = await api.post(
        "/v1/jobs", json=body, headers={**tenant.headers, "Idempotency-Key": "k"}
    )
    theirs = await api.post(
        "/v1/jobs", json=body, headers={**other_tenant.headers, "Idempotency-Key": "k"}
    )
    assert mine.json()["id"] != theirs.json()["id"]


async def test_fifty_concurrent_duplicates_create_one_job(
    api, tenant: TenantCredentials, engine: Engine, enqueuer: RecordingEnqueuer
) -> None:
    custom_id = f"dup-{uuid.uuid4().hex}"
    body = make_job_body(custom_id=custom_id)
    headers = {**tenant.headers, "Idempotency-Key": custom_id}
    responses = await asyncio.gather(
        *(api.post("/v1/jobs", json=body, headers=headers) for _ in range(50))
    )
    assert {response.status_code for response in responses} == {202}
    assert len({response.json()["id"] for response in responses}) == 1
    assert _jobs_of(engine, custom_id) == 1
    assert len(enqueuer.sent) == 1


async def test_long_poll_returns_when_the_job_finishes(
    api, tenant: TenantCredentials, engine: Engine, services: Services
) -> None:
    job_id = (
        await api.post("/v1/jobs", json=make_job_body(), headers=tenant.headers)
    ).json()["id"]

    async def finish_soon() -> None:
        await asyncio.sleep(0.3)
        with Session(engine) as session, session.begin():
            session.execute(
                update(Job)
                .where(Job.id == uuid.UUID(job_id))
                .values(status="succeeded")
            )
        publisher = redis.Redis.from_url(services.redis_url)
        publisher.publish(JOBS_FINISHED_CHANNEL, job_id)
        publisher.close()

    started = time.monotonic()
    response, _ = await asyncio.gather(
        api.get(f"/v1/jobs/{job_id}?wait=20", headers=tenant.headers), finish_soon()
    )
    assert response.json()["status"] == "succeeded"
    assert time.monotonic() - started < 15  # woken, not timed out


async def test_long_poll_gives_the_current_state_after_the_wait(
    api, tenant: TenantCredentials
) -> None:
    job_id = (
        await api.post("/v1/jobs", json=make_job_body(), headers=tenant.headers)
    ).json()["id"]
    response = await api.get(f"/v1/jobs/{job_id}?wait=0.5", headers=tenant.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "queued"


async def test_negative_wait_is_422(api, tenant: TenantCredentials) -> None:
    response = await api.get(f"/v1/jobs/{uuid.uuid4()}?wait=-1", headers=tenant.headers)
    assert response.status_code == 422
