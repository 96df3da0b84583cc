"""A finished job's webhook event: written with the finish, or not at all."""

from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from sqlalchemy import text

from shared.jobs import JobStatus
from tests.integration.workers.conftest import (
    fetch_attempts,
    fetch_deliveries,
    fetch_job,
    set_tenant_webhook,
)
from tests.unit.workers.payloads import completion_body, error_body
from workers.jobs.endings import OutcomeKind

pytestmark = pytest.mark.timeout(30)

OWN_URL = "https://hooks.example.com/own"
TENANT_URL = "https://hooks.example.com/tenant"


def _run(ctx, job_id):
    return ctx.loop.run(ctx.completions.run(job_id))


def _answer(openrouter_mock, response: httpx.Response):
    return openrouter_mock.post("/chat/completions").mock(return_value=response)


def test_job_with_webhook_url_gets_one_event_sent_after_its_finish(
    worker_process, openrouter_mock, make_job, engine, deliveries, tenant
):
    set_tenant_webhook(engine, tenant["id"], TENANT_URL)  # its own URL wins
    _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job(webhook_url=OWN_URL, custom_id="row-1")

    assert _run(worker_process, job_id).kind is OutcomeKind.SUCCEEDED

    job = fetch_job(engine, job_id)
    [delivery] = fetch_deliveries(engine, job_id)
    assert (delivery.event_type, delivery.url, delivery.status) == (
        "job.succeeded",
        OWN_URL,
        "pending",
    )
    data = delivery.payload["data"]
    assert data["status"] == "succeeded"
    assert data["custom_id"] == "row-1"
    assert data["cost_usd"] == str(job.cost_usd)
    assert datetime.fromisoformat(data["finished_at"]) == job.finished_at
    assert deliveries.sent == [delivery.id]


def test_failed_job_announces_itself_to_the_tenant_default_url(
    worker_process, openrouter_mock, make_job, engine, deliveries, tenant
):
    set_tenant_webhook(engine, tenant["id"], TENANT_URL)
    _answer(openrouter_mock, httpx.Response(400, json=error_body(400, "bad params")))
    job_id = make_job()

    assert _run(worker_process, job_id).kind is OutcomeKind.FAILED

    [delivery] = fetch_deliveries(engine, job_id)
    assert (delivery.event_type, delivery.url) == ("job.failed", TENANT_URL)
    assert delivery.payload["data"]["error"] == {
        "code": "upstream_bad_request",
        "message": "bad params",
    }
    assert deliveries.sent == [delivery.id]


def test_job_without_a_destination_records_no_event(
    worker_process, openrouter_mock, make_job, engine, deliveries
):
    _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job()

    assert _run(worker_process, job_id).kind is OutcomeKind.SUCCEEDED

    assert fetch_deliveries(engine, job_id) == []
    assert deliveries.sent == []


def test_batch_item_is_announced_only_by_its_own_url(
    worker_process, openrouter_mock, make_job, make_batch, engine, tenant
):
    set_tenant_webhook(engine, tenant["id"], TENANT_URL)
    _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    batch_id = make_batch(total=2, expires_at=datetime.now(UTC) + timedelta(hours=1))
    plain = make_job(batch_id=batch_id)
    own = make_job(batch_id=batch_id, webhook_url=OWN_URL)

    _run(worker_process, plain)
    _run(worker_process, own)

    assert fetch_deliveries(engine, plain) == []
    assert [row.url for row in fetch_deliveries(engine, own)] == [OWN_URL]


def test_disabled_endpoint_gets_no_event_but_the_job_finishes(
    worker_process, openrouter_mock, make_job, engine, deliveries, tenant
):
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO webhook_endpoints (id, tenant_id, url, disabled_at)"
                " VALUES (gen_random_uuid(), :tenant, :url, now())"
            ),
            {"tenant": tenant["id"], "url": OWN_URL},
        )
    _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job(webhook_url=OWN_URL)

    assert _run(worker_process, job_id).kind is OutcomeKind.SUCCEEDED

    assert fetch_deliveries(engine, job_id) == []
    assert deliveries.sent == []


@pytest.fixture
def failing_outbox(engine):
    """Every insert into the outbox fails, until the test ends."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE FUNCTION test_refuse_delivery() RETURNS trigger"
                " LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER test_refuse_delivery BEFORE INSERT ON"
                " webhook_deliveries FOR EACH ROW"
                " EXECUTE FUNCTION test_refuse_delivery()"
            )
        )
    yield
    with engine.begin() as connection:
        connection.execute(
            text("DROP TRIGGER test_refuse_delivery ON webhook_deliveries")
        )
        connection.execute(text("DROP FUNCTION test_refuse_delivery()"))


@pytest.mark.usefixtures("failing_outbox")
def test_finish_and_its_event_commit_together_or_not_at_all(
    worker_process, openrouter_mock, make_job, engine, deliveries
):
    _answer(openrouter_mock, httpx.Response(200, json=completion_body()))
    job_id = make_job(webhook_url=OWN_URL)

    with pytest.raises(psycopg.errors.RaiseException, match="outbox refused"):
        _run(worker_process, job_id)

    job = fetch_job(engine, job_id)
    assert (job.status, job.result) == (JobStatus.RUNNING, None)  # lease → re-sent
    # The call stays in the ledger as begun; its answer rolled back with the finish.
    [attempt] = fetch_attempts(engine, job_id)
    assert attempt.outcome == "started"
    assert deliveries.sent == []


def test_stale_claim_records_no_event(
    worker_process, openrouter_mock, make_job, engine, deliveries
):
    async def slow_then_taken_over(request):
        with engine.begin() as connection:  # another worker took the job over
            connection.execute(
                text("UPDATE jobs SET claim_token = gen_random_uuid() WHERE id = :id"),
                {"id": job_id},
            )
        return httpx.Response(200, json=completion_body())

    openrouter_mock.post("/chat/completions").mock(side_effect=slow_then_taken_over)
    job_id = make_job(webhook_url=OWN_URL)

    assert _run(worker_process, job_id).kind is OutcomeKind.CLAIM_LOST

    assert fetch_deliveries(engine, job_id) == []
    assert len(fetch_attempts(engine, job_id)) == 1  # the call made is kept
    assert deliveries.sent == []
