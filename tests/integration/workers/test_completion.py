"""completion.run against real Postgres, with OpenRouter mocked."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import text

from shared.jobs import AttemptOutcome, JobStatus
from tests.integration.workers.conftest import fetch_attempts, fetch_job
from tests.unit.workers.payloads import GENERATION_ID, completion_body, error_body
from workers import completion, jobs_store
from workers.completion import OutcomeKind


def _answer(openrouter_mock, *responses: httpx.Response):
    return openrouter_mock.post("/chat/completions").mock(side_effect=list(responses))


def test_success_records_one_attempt_and_finishes_with_cost(
    worker_context, openrouter_mock, make_job, engine
):
    route = _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job()

    outcome = completion.run(job_id, worker_context)

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
    worker_context, openrouter_mock, make_job, tenant
):
    route = _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job(
        request=json.dumps({"messages": [{"role": "user", "content": "x"}]})
    )

    completion.run(job_id, worker_context)

    assert json.loads(route.calls.last.request.content)["model"] == tenant["model"]


def test_rate_limited_job_is_released_for_a_later_retry(
    worker_context, openrouter_mock, make_job, engine
):
    body = error_body(429, "Rate limit exceeded")
    _answer(
        openrouter_mock, httpx.Response(429, json=body, headers={"Retry-After": "7"})
    )
    job_id = make_job()

    outcome = completion.run(job_id, worker_context)

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


def test_permanent_error_fails_the_job_with_its_code(
    worker_context, openrouter_mock, make_job, engine
):
    _answer(openrouter_mock, httpx.Response(400, json=error_body(400, "bad params")))
    job_id = make_job()

    outcome = completion.run(job_id, worker_context)

    assert outcome.kind is OutcomeKind.FAILED
    job = fetch_job(engine, job_id)
    assert job.status == JobStatus.FAILED
    assert (job.error_code, job.error_message) == ("upstream_bad_request", "bad params")
    [attempt] = fetch_attempts(engine, job_id)
    assert attempt.outcome == AttemptOutcome.PERMANENT


def test_retryable_error_fails_once_the_retry_budget_is_spent(
    worker_context, openrouter_mock, make_job, engine
):
    _answer(openrouter_mock, httpx.Response(503, json=error_body(503, "overloaded")))
    job_id = make_job(retries=worker_context.settings.openrouter_max_retries)

    outcome = completion.run(job_id, worker_context)

    assert outcome.kind is OutcomeKind.FAILED
    assert fetch_job(engine, job_id).error_code == "upstream_unavailable"


def test_second_delivery_of_a_finished_job_does_nothing(
    worker_context, openrouter_mock, make_job, engine
):
    route = _answer(
        openrouter_mock,
        httpx.Response(200, json=completion_body()),
        httpx.Response(200, json=completion_body()),
    )
    job_id = make_job()
    completion.run(job_id, worker_context)

    outcome = completion.run(job_id, worker_context)

    assert outcome.kind is OutcomeKind.NOT_CLAIMED
    assert route.call_count == 1
    assert len(fetch_attempts(engine, job_id)) == 1


def test_job_not_yet_available_is_not_claimed(
    worker_context, openrouter_mock, make_job
):
    route = _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job(available_at=datetime.now(UTC) + timedelta(minutes=5))

    assert completion.run(job_id, worker_context).kind is OutcomeKind.NOT_CLAIMED
    assert route.call_count == 0


def test_running_job_with_expired_lease_is_reclaimed(
    worker_context, openrouter_mock, make_job, engine
):
    _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job(
        status="running", lease_expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )

    assert completion.run(job_id, worker_context).kind is OutcomeKind.SUCCEEDED
    assert fetch_job(engine, job_id).status == JobStatus.SUCCEEDED


def test_stale_claim_cannot_finish_but_its_attempt_is_kept(
    worker_context, make_job, engine
):
    job_id = make_job()
    with worker_context.sessions.begin() as session:
        stale = jobs_store.claim_job(session, job_id, lease_s=60)
    assert stale is not None
    with worker_context.sessions.begin() as session:  # another worker took over
        session.execute(
            text("UPDATE jobs SET claim_token = gen_random_uuid() WHERE id = :id"),
            {"id": job_id},
        )
    attempt = jobs_store.AttemptRecord(
        job_id=job_id,
        model="openai/gpt-4o-mini",
        outcome=AttemptOutcome.SUCCEEDED,
        started_at=datetime.now(UTC),
        latency_ms=500,
        cost_usd=Decimal("0.001"),
    )

    with worker_context.sessions.begin() as session:
        finished = jobs_store.finish_job(session, stale, attempt, result_json="{}")

    assert not finished
    assert fetch_job(engine, job_id).status == JobStatus.RUNNING
    assert len(fetch_attempts(engine, job_id)) == 1
