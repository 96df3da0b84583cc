"""completion against real Postgres and Redis, with OpenRouter mocked."""

import asyncio
import json
import threading
import time
import uuid
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import redis
from celery import Celery
from sqlalchemy import text

from shared import redis_keys
from shared.jobs import AttemptOutcome, JobStatus
from shared.queues import tenant_queue
from shared.redis_keys import JOBS_FINISHED_CHANNEL
from shared.routing.performance import AttemptSample
from tests.factories import make_job_body
from tests.integration.workers.conftest import fetch_attempts, fetch_job
from tests.polling import wait_until
from tests.unit.workers.payloads import GENERATION_ID, completion_body, error_body
from workers.jobs import records, transitions
from workers.jobs.endings import OutcomeKind
from workers.routing.performance_store import PerformanceStore
from workers.runtime.job_sender import CeleryJobSender

pytestmark = pytest.mark.timeout(30)


def _run(ctx, job_id):
    """Completions.run on the process's loop, waited for."""
    return ctx.loop.run(ctx.completions.run(job_id))


def _start(job_ids, ctx) -> int:
    """Completions.start, as a message leads to it: returns after the claims."""
    return ctx.loop.run(ctx.completions.start(job_ids))


def _wait_idle(ctx) -> int:
    return ctx.loop.run(ctx.completions.inflight.wait_idle(10))


@pytest.fixture
def single_model_job(make_job, tenant):
    """A job whose only candidate is the tenant's default model: no model to fall
    back to, so a retryable error releases it for a later retry."""

    def insert(**columns):
        body = json.dumps(make_job_body(model=tenant["model"]))
        return make_job(request=body, **columns)

    return insert


def _answer(openrouter_mock, *responses: httpx.Response):
    return openrouter_mock.post("/chat/completions").mock(side_effect=list(responses))


def test_success_records_one_attempt_and_finishes_with_cost(
    worker_process, openrouter_mock, make_job, engine
):
    route = _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job()

    outcome = _run(worker_process, job_id)

    assert outcome.kind is OutcomeKind.SUCCEEDED
    job = fetch_job(engine, job_id)
    assert job.status == JobStatus.SUCCEEDED
    assert job.result == completion_body()
    assert (job.model, job.provider) == ("openai/gpt-4o-mini", "OpenAI")
    assert (job.prompt_tokens, job.completion_tokens) == (12, 3)
    assert job.cost_usd == Decimal("0.0000036")
    assert job.finished_at is not None
    assert job.started_at is not None
    [attempt] = fetch_attempts(engine, job_id)
    assert attempt.outcome == AttemptOutcome.SUCCEEDED
    assert (attempt.number, attempt.http_status) == (1, 200)
    assert attempt.generation_id == GENERATION_ID
    assert attempt.cost_usd == Decimal("0.0000036")
    sent = json.loads(route.calls.last.request.content)
    assert sent["model"] == "openai/gpt-4o-mini"
    assert route.calls.last.request.headers["X-Helixq-Job-Id"] == str(job_id)


def test_tenant_default_model_is_used_when_the_request_names_none(
    worker_process, openrouter_mock, make_job, tenant
):
    route = _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job(
        request=json.dumps({"messages": [{"role": "user", "content": "x"}]})
    )

    _run(worker_process, job_id)

    assert json.loads(route.calls.last.request.content)["model"] == tenant["model"]


def test_rate_limited_job_is_released_for_a_later_retry(
    worker_process, openrouter_mock, single_model_job, engine, sender, tenant
):
    body = error_body(429, "Rate limit exceeded")
    _answer(
        openrouter_mock, httpx.Response(429, json=body, headers={"Retry-After": "7"})
    )
    job_id = single_model_job()

    outcome = _run(worker_process, job_id)

    assert outcome.kind is OutcomeKind.RETRY
    assert outcome.retry_in_s is not None
    assert outcome.retry_in_s >= 7
    job = fetch_job(engine, job_id)
    assert job.status == JobStatus.QUEUED
    assert job.retries == 1
    assert job.claim_token is None
    assert job.available_at > datetime.now(UTC) + timedelta(seconds=5)
    [attempt] = fetch_attempts(engine, job_id)
    assert attempt.outcome == AttemptOutcome.RETRYABLE
    assert (attempt.http_status, attempt.error_code) == (429, "upstream_rate_limited")
    # re-published to the tenant's queue, to run when the job is due again
    assert sender.sent == [(job_id, tenant_queue(tenant["slug"]), outcome.retry_in_s)]


class NoThreads(Executor):
    """The loop's default executor: the job's path must never hand work to a thread."""

    def submit(self, fn, /, *args, **kwargs):
        raise AssertionError(f"{fn!r} was sent off the event loop")


def test_a_job_and_its_retry_never_leave_the_event_loop(
    worker_process, openrouter_mock, single_model_job, sender, tenant
):
    _answer(openrouter_mock, httpx.Response(503, json=error_body(503, "down")))
    job_id = single_model_job()

    async def without_threads():
        asyncio.get_running_loop().set_default_executor(NoThreads())

    worker_process.loop.run(without_threads())
    outcome = _run(worker_process, job_id)

    assert outcome.kind is OutcomeKind.RETRY
    assert sender.sent == [(job_id, tenant_queue(tenant["slug"]), outcome.retry_in_s)]


def test_permanent_error_fails_the_job_with_its_code(
    worker_process, openrouter_mock, make_job, engine
):
    _answer(openrouter_mock, httpx.Response(400, json=error_body(400, "bad params")))
    job_id = make_job()

    outcome = _run(worker_process, job_id)

    assert outcome.kind is OutcomeKind.FAILED
    job = fetch_job(engine, job_id)
    assert job.status == JobStatus.FAILED
    assert (job.error_code, job.error_message) == ("upstream_bad_request", "bad params")
    [attempt] = fetch_attempts(engine, job_id)
    assert attempt.outcome == AttemptOutcome.PERMANENT


def test_retryable_error_fails_once_the_retry_budget_is_spent(
    worker_process, openrouter_mock, single_model_job, engine
):
    _answer(openrouter_mock, httpx.Response(503, json=error_body(503, "overloaded")))
    job_id = single_model_job(retries=worker_process.settings.openrouter_max_retries)

    outcome = _run(worker_process, job_id)

    assert outcome.kind is OutcomeKind.FAILED
    assert fetch_job(engine, job_id).error_code == "upstream_unavailable"


def test_second_delivery_of_a_finished_job_does_nothing(
    worker_process, openrouter_mock, make_job, engine
):
    route = _answer(
        openrouter_mock,
        httpx.Response(200, json=completion_body()),
        httpx.Response(200, json=completion_body()),
    )
    job_id = make_job()
    _run(worker_process, job_id)

    outcome = _run(worker_process, job_id)

    assert outcome.kind is OutcomeKind.NOT_CLAIMED
    assert route.call_count == 1
    assert len(fetch_attempts(engine, job_id)) == 1


def test_job_not_yet_available_is_not_claimed(
    worker_process, openrouter_mock, make_job
):
    route = _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job(available_at=datetime.now(UTC) + timedelta(minutes=5))

    assert _run(worker_process, job_id).kind is OutcomeKind.NOT_CLAIMED
    assert route.call_count == 0


def test_a_discount_lane_job_is_not_claimed_by_the_realtime_path(
    worker_process, openrouter_mock, make_job
):
    route = _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job(lane="discount")

    assert _run(worker_process, job_id).kind is OutcomeKind.NOT_CLAIMED
    assert route.call_count == 0


def test_running_job_with_expired_lease_is_reclaimed(
    worker_process, openrouter_mock, make_job, engine
):
    _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job(
        status="running", lease_expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )

    assert _run(worker_process, job_id).kind is OutcomeKind.SUCCEEDED
    assert fetch_job(engine, job_id).status == JobStatus.SUCCEEDED


def _claim(ctx, job_id):
    async def claim():
        async with ctx.db.connection() as conn:
            [job] = await transitions.claim_jobs(conn, [job_id], lease_s=60)
            return job

    return ctx.loop.run(claim())


def _begin(ctx, job, call):
    async def begin():
        async with ctx.db.connection() as conn:
            return await transitions.begin_attempt(conn, job, call)

    return ctx.loop.run(begin())


def _take_over(engine, job_id):
    with engine.begin() as connection:  # another worker took over
        connection.execute(
            text("UPDATE jobs SET claim_token = gen_random_uuid() WHERE id = :id"),
            {"id": job_id},
        )


def test_stale_claim_cannot_finish_but_its_answer_is_kept(
    worker_process, make_job, engine
):
    job_id = make_job()
    stale = _claim(worker_process, job_id)
    call = records.Call("openai/gpt-4o-mini")
    assert _begin(worker_process, stale, call)
    _take_over(engine, job_id)
    attempt = records.AttemptRecord(
        id=call.id,
        job_id=job_id,
        model=call.model,
        outcome=AttemptOutcome.SUCCEEDED,
        started_at=call.started_at,
        latency_ms=500,
        cost_usd=Decimal("0.001"),
    )

    async def finish():
        async with worker_process.db.connection() as conn:
            return await transitions.finish_job(conn, stale, attempt, result_json="{}")

    assert not worker_process.loop.run(finish())
    assert fetch_job(engine, job_id).status == JobStatus.RUNNING
    [kept] = fetch_attempts(engine, job_id)
    assert (kept.outcome, kept.cost_usd) == ("succeeded", Decimal("0.001"))


def test_no_call_begins_without_the_claim(worker_process, make_job, engine):
    job_id = make_job()
    stale = _claim(worker_process, job_id)
    _take_over(engine, job_id)

    assert not _begin(worker_process, stale, records.Call("openai/gpt-4o-mini"))
    assert fetch_attempts(engine, job_id) == []


def test_a_lost_claim_before_the_call_means_no_call(
    worker_process, openrouter_mock, make_job, engine, monkeypatch
):
    route = _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job()
    begin = transitions.begin_attempt

    async def taken_over_first(conn, job, call):
        _take_over(engine, job_id)
        return await begin(conn, job, call)

    monkeypatch.setattr(transitions, "begin_attempt", taken_over_first)

    assert _run(worker_process, job_id).kind is OutcomeKind.CLAIM_LOST
    assert route.call_count == 0
    assert fetch_attempts(engine, job_id) == []


def test_task_returns_once_the_claim_is_committed_while_the_call_goes_on(
    worker_process, openrouter_mock, make_job, engine
):
    upstream_may_answer = threading.Event()

    async def slow_upstream(request):
        await asyncio.to_thread(upstream_may_answer.wait, 10)
        return httpx.Response(200, json=completion_body())

    openrouter_mock.post("/chat/completions").mock(side_effect=slow_upstream)
    job_id = make_job()

    assert _start([job_id], worker_process) == 1

    job = fetch_job(engine, job_id)  # the ack may go now: Postgres holds the claim
    assert job.status == JobStatus.RUNNING
    assert job.claim_token is not None
    assert job.lease_expires_at > datetime.now(UTC) + timedelta(seconds=60)
    # The call is in the ledger before it is made: a crash now would leave it there.
    wait_until(
        lambda: len(fetch_attempts(engine, job_id)) == 1, timeout_s=5, what="the row"
    )
    [in_flight] = fetch_attempts(engine, job_id)
    assert (in_flight.outcome, in_flight.latency_ms) == ("started", None)
    upstream_may_answer.set()
    assert _wait_idle(worker_process) == 0
    assert fetch_job(engine, job_id).status == JobStatus.SUCCEEDED
    [answered] = fetch_attempts(engine, job_id)
    assert (answered.id, answered.outcome) == (in_flight.id, "succeeded")
    assert answered.cost_usd is not None


def test_second_delivery_of_a_running_job_exits_quietly(
    worker_process, openrouter_mock, make_job, engine
):
    route = _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job(
        status="running", lease_expires_at=datetime.now(UTC) + timedelta(minutes=1)
    )

    assert _start([job_id], worker_process) == 0

    assert route.call_count == 0
    assert fetch_job(engine, job_id).status == JobStatus.RUNNING


class FinishedNotices:
    """A subscriber to the finished channel (channels span every Redis db, so
    other processes' notices are filtered out by job id)."""

    def __init__(self, redis_url: str) -> None:
        self._client = redis.Redis.from_url(redis_url)
        self._pubsub = self._client.pubsub()
        self._pubsub.subscribe(JOBS_FINISHED_CHANNEL)
        confirmation = self._pubsub.get_message(timeout=2.0)
        assert confirmation is not None
        assert confirmation["type"] == "subscribe"

    def received(self, job_ids: set[str], *, wait_s: float) -> list[str]:
        """The notices about `job_ids` arriving within `wait_s`, in order."""
        seen: list[str] = []
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and len(seen) < len(job_ids):
            message = self._pubsub.get_message(timeout=0.1)
            if message and message["type"] == "message":
                job_id = message["data"].decode()
                if job_id in job_ids:
                    seen.append(job_id)
        return seen

    def close(self) -> None:
        self._pubsub.close()
        self._client.close()


@pytest.fixture
def finished_notices(services):
    notices = FinishedNotices(services.redis_url)
    yield notices
    notices.close()


def test_a_final_state_is_announced_on_the_finished_channel(
    worker_process, openrouter_mock, make_job, finished_notices
):
    _answer(
        openrouter_mock,
        httpx.Response(200, json=completion_body()),
        httpx.Response(400, json=error_body(400, "bad params")),
    )
    succeeded, failed = make_job(), make_job()

    assert _run(worker_process, succeeded).kind is OutcomeKind.SUCCEEDED
    assert _run(worker_process, failed).kind is OutcomeKind.FAILED

    expected = [str(succeeded), str(failed)]
    assert finished_notices.received(set(expected), wait_s=3) == expected


def test_a_released_job_is_not_announced(
    worker_process, openrouter_mock, single_model_job, finished_notices
):
    _answer(openrouter_mock, httpx.Response(503, json=error_body(503, "overloaded")))
    job_id = single_model_job()

    assert _run(worker_process, job_id).kind is OutcomeKind.RETRY

    assert finished_notices.received({str(job_id)}, wait_s=0.5) == []


def test_celery_sender_publishes_the_retry_to_the_tenant_queue(services):
    client = redis.Redis.from_url(services.redis_url)
    app = Celery(broker=services.redis_url)
    app.conf.update(task_serializer="json", accept_content=["json"])
    job_id = "00000000-0000-4000-8000-0000000000aa"
    queue = tenant_queue("retry-target")

    CeleryJobSender(app).send(uuid.UUID(job_id), queue, countdown_s=30)

    [raw] = client.lrange(queue, 0, -1)
    message = json.loads(raw)
    assert message["headers"]["id"] == job_id
    assert message["headers"]["task"] == "workers.run_completion"
    assert message["headers"]["eta"] is not None
    assert message["properties"]["delivery_info"]["routing_key"] == queue
    client.delete(queue)
    client.close()


def _configure_tenant(engine, tenant, **columns):
    assignments = ", ".join(f"{name} = :{name}" for name in columns)
    with engine.begin() as connection:
        connection.execute(
            text(f"UPDATE tenants SET {assignments} WHERE id = :id"),
            {**columns, "id": tenant["id"]},
        )


def test_a_named_model_is_called_though_the_tenant_strategy_would_explore(
    worker_process, openrouter_mock, make_job, engine, tenant, redis_client
):
    # The named model is measured; the other has no samples: a strategy that
    # chose would explore it first.
    for _ in range(5):
        PerformanceStore(redis_client).record(
            "openai/gpt-4o-mini", AttemptSample(True, 300, 40)
        )
    pool = [{"model": "openai/gpt-4o-mini"}, {"model": "mistralai/mistral-nemo"}]
    _configure_tenant(
        engine,
        tenant,
        route_strategy="performance_optimized",
        fallback_strategy="none",
        model_pool=json.dumps(pool),
    )
    route = _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job()  # names openai/gpt-4o-mini

    assert _run(worker_process, job_id).kind is OutcomeKind.SUCCEEDED

    assert json.loads(route.calls.last.request.content)["model"] == (
        "openai/gpt-4o-mini"
    )
    routing = fetch_job(engine, job_id).routing
    assert routing["candidates"] == ["openai/gpt-4o-mini"]
    assert "as named" in routing["reason"]


def test_rate_limited_model_falls_back_to_the_tenant_default_in_the_same_run(
    worker_process, openrouter_mock, make_job, engine, tenant, redis_client
):
    # The tenant lets another model answer once the named one failed.
    _configure_tenant(engine, tenant, model_substitution="on_failure")
    route = _answer(
        openrouter_mock,
        httpx.Response(429, json=error_body(429, "Rate limit exceeded")),
        httpx.Response(200, json=completion_body()),
    )
    job_id = make_job()

    outcome = _run(worker_process, job_id)

    assert outcome.kind is OutcomeKind.SUCCEEDED
    models = [json.loads(call.request.content)["model"] for call in route.calls]
    assert models == ["openai/gpt-4o-mini", tenant["model"]]
    first, second = fetch_attempts(engine, job_id)
    assert (first.outcome, first.http_status) == (AttemptOutcome.RETRYABLE, 429)
    assert second.outcome == AttemptOutcome.SUCCEEDED
    routing = fetch_job(engine, job_id).routing
    assert routing["strategy"] == "basic"
    assert routing["candidates"] == models
    assert routing["model_used"] == tenant["model"]
    assert routing["failures"][0]["error_code"] == "upstream_rate_limited"
    # both attempts are folded into the shared performance cache (the success under
    # the model the answer names, as OpenRouter reports what served it)
    keys = {redis_keys.model_performance(model) for model in models}
    samples = sum(float(redis_client.hget(key, "samples") or 0) for key in keys)
    assert round(samples) == 2


def test_a_group_is_claimed_at_once_and_each_job_runs_on(
    worker_process, openrouter_mock, make_job, engine
):
    route = openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(200, json=completion_body())
    )
    group = [make_job() for _ in range(3)]
    finished = make_job(status="succeeded")
    later = make_job(available_at=datetime.now(UTC) + timedelta(minutes=5))

    started = _start([*group, finished, later], worker_process)

    assert started == 3  # the finished job and the one not yet due are left alone
    assert _wait_idle(worker_process) == 0
    assert [fetch_job(engine, job_id).status for job_id in group] == [
        JobStatus.SUCCEEDED
    ] * 3
    assert fetch_job(engine, later).status == JobStatus.QUEUED
    assert route.call_count == 3
    tokens = {fetch_job(engine, job_id).claim_token for job_id in group}
    assert len(tokens) == 3  # each job holds a claim of its own


def test_claims_made_at_the_same_moment_share_one_statement(
    worker_process, make_job, engine, monkeypatch
):
    first, shared, last = make_job(), make_job(), make_job()
    statements = []
    claim_jobs = transitions.claim_jobs

    async def counted(conn, job_ids, *, lease_s):
        statements.append(list(job_ids))
        return await claim_jobs(conn, job_ids, lease_s=lease_s)

    monkeypatch.setattr(transitions, "claim_jobs", counted)

    async def two_messages():
        return await asyncio.gather(
            worker_process.completions.claims.claim([first, shared]),
            worker_process.completions.claims.claim([shared, last]),
        )

    one, other = worker_process.loop.run(two_messages())

    assert statements == [[first, shared, shared, last]]
    # A job named by both messages is held by the first alone, never worked twice.
    assert [job.id for job in one] == [first, shared]
    assert [job.id for job in other] == [last]
    assert {fetch_job(engine, job_id).status for job_id in (first, shared, last)} == {
        JobStatus.RUNNING
    }
