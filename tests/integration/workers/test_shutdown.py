"""A worker process stopping with jobs in flight, against real Postgres and Redis:
what outlasts the grace is handed back to its queue, under the claim only."""

import asyncio
import threading

import httpx
import pytest

from shared.jobs import JobStatus
from shared.queues import tenant_queue
from tests.integration.workers.conftest import fetch_attempts, fetch_job
from tests.polling import wait_until
from tests.unit.workers.payloads import completion_body
from workers.jobs import records, transitions
from workers.jobs.endings import WORKER_STOPPED

pytestmark = pytest.mark.timeout(30)


def test_a_call_outlasting_the_stop_grace_is_interrupted_and_its_job_queued(
    worker_process, openrouter_mock, make_job, engine, sender, tenant
):
    never = threading.Event()

    async def hanging_upstream(_request):
        await asyncio.to_thread(never.wait, 20)
        return httpx.Response(200, json=completion_body())

    openrouter_mock.post("/chat/completions").mock(side_effect=hanging_upstream)
    job_id = make_job()
    assert worker_process.loop.run(worker_process.completions.start([job_id])) == 1
    wait_until(
        lambda: len(fetch_attempts(engine, job_id)) == 1, timeout_s=5, what="the call"
    )

    cut_off = worker_process.loop.run(worker_process.completions.inflight.stop(0.2))
    never.set()

    assert cut_off == 1
    job = fetch_job(engine, job_id)
    assert (job.status, job.claim_token, job.retries) == (JobStatus.QUEUED, None, 0)
    [attempt] = fetch_attempts(engine, job_id)
    assert (attempt.outcome, attempt.error_code) == ("interrupted", WORKER_STOPPED)
    assert attempt.latency_ms is None  # no answer: nothing to say of the model
    assert sender.sent == [(job_id, tenant_queue(tenant["slug"]), None)]


def test_a_job_whose_claim_was_lost_is_not_handed_back(
    worker_process, make_job, engine
):
    job_id = make_job()

    async def claim_begin_and_lose():
        async with worker_process.db.connection() as conn:
            [stale] = await transitions.claim_jobs(conn, [job_id], lease_s=60)
            await transitions.begin_attempt(conn, stale, records.Call("a/model"))
            # Another worker took the job over (its lease ran out meanwhile).
            await conn.execute(
                "UPDATE jobs SET claim_token = gen_random_uuid() WHERE id = %s",
                (job_id,),
            )
            return await transitions.interrupt_job(
                conn, stale, code=WORKER_STOPPED, message="stopped"
            )

    assert not worker_process.loop.run(claim_begin_and_lose())
    assert fetch_job(engine, job_id).status == JobStatus.RUNNING
    [attempt] = fetch_attempts(engine, job_id)
    assert attempt.outcome == "started"  # without the claim, nothing changes
