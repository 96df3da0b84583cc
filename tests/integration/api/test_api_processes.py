"""Several API processes (`helixq api --workers N`) answer as one: a long poll
is woken by a worker's notice in whichever process holds it, and /metrics shows
the same figures from every process."""

import asyncio
import time
import uuid

import pytest
import redis
from sqlalchemy import Engine, text

from broker_api import waiters
from shared.redis_keys import JOBS_FINISHED_CHANNEL
from tests.factories import make_job_body
from tests.integration.api.conftest import TenantCredentials, api_process
from tests.services import Services

pytestmark = pytest.mark.anyio


async def test_a_long_poll_in_another_process_is_woken_by_the_notice(
    services: Services,
    engine: Engine,
    tenant: TenantCredentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only the notice can wake the poll in time: no periodic re-read before 30 s.
    monkeypatch.setattr(waiters, "RECHECK_S", 30.0)
    async with api_process(services) as first, api_process(services) as second:
        submitted = await first.post(
            "/v1/jobs", json=make_job_body(), headers=tenant.headers
        )
        job_id = submitted.json()["id"]

        async def finish_as_a_worker_does() -> None:
            await asyncio.sleep(0.3)
            with engine.begin() as connection:
                connection.execute(
                    text("UPDATE jobs SET status = 'succeeded' WHERE id = :id"),
                    {"id": uuid.UUID(job_id)},
                )
            publisher = redis.Redis.from_url(services.redis_url)
            publisher.publish(JOBS_FINISHED_CHANNEL, job_id)
            publisher.close()

        started = time.monotonic()
        polled, _ = await asyncio.gather(
            second.get(f"/v1/jobs/{job_id}?wait=20", headers=tenant.headers),
            finish_as_a_worker_does(),
        )
    assert polled.json()["status"] == "succeeded"
    assert time.monotonic() - started < 10


def _tenant_lines(metrics: str, slug: str) -> list[str]:
    return sorted(
        line
        for line in metrics.splitlines()
        if line.startswith("helixq_jobs{") and f'tenant="{slug}"' in line
    )


async def test_every_process_shows_the_same_metrics(
    services: Services, tenant: TenantCredentials
) -> None:
    async with api_process(services) as first, api_process(services) as second:
        for api in (first, second, first):
            response = await api.post(
                "/v1/jobs", json=make_job_body(), headers=tenant.headers
            )
            assert response.status_code == 202
        from_first = (await first.get("/metrics")).text
        from_second = (await second.get("/metrics")).text
    lines = _tenant_lines(from_first, tenant.slug)
    assert lines == [f'helixq_jobs{{status="queued",tenant="{tenant.slug}"}} 3.0']
    assert _tenant_lines(from_second, tenant.slug) == lines
