"""Upstream batches are polled; their results end each job as a realtime answer
would, at exact cost, and lines the Batch API did not answer run realtime."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from shared.db.models import Attempt, Job
from shared.db.upstream_batches import UpstreamBatch
from shared.queues import tenant_queue
from tests.factories import make_job_body
from tests.integration.workers.conftest import BATCH_API_URL, ListSender
from workers.maintenance.discount_submission import DiscountConfig, DiscountDeps
from workers.maintenance.upstream_polling import PollSchedule, follow_upstream_batches
from workers.openrouter.batches import BatchApi

SCHEDULE = PollSchedule(first_s=5, max_s=300)


def _deps(worker_process, router: respx.MockRouter, sender: ListSender) -> DiscountDeps:
    client = httpx.Client(transport=httpx.MockTransport(router.handler))
    config = DiscountConfig(max_requests=10, max_bytes=10**6, reconcile_after_s=30)
    return DiscountDeps(
        worker_process.sessions, BatchApi(client, BATCH_API_URL), sender, config
    )


@pytest.fixture
def sent_upstream(engine: Engine, make_batch, make_job, tenant):
    """A discount batch of `count` lines, already sent upstream as one batch."""

    def create(count: int) -> tuple[str, list[uuid.UUID]]:
        expires = datetime.now(UTC) + timedelta(days=1)
        batch_id = make_batch(total=count, expires_at=expires, lane="discount")
        jobs = [
            make_job(
                batch_id=batch_id,
                lane="discount",
                request=json.dumps(make_job_body()),
            )
            for _ in range(count)
        ]
        upstream_id = f"batch-{uuid.uuid4().hex}"
        with Session(engine) as session, session.begin():
            row = UpstreamBatch(
                batch_id=batch_id,
                tenant_id=tenant["id"],
                model="openai/gpt-4o-mini",
                upstream_id=upstream_id,
                status="validating",
                request_count=count,
                body_bytes=100,
                sent_at=datetime.now(UTC),
                next_poll_at=datetime.now(UTC),
            )
            session.add(row)
            session.flush()
            session.execute(
                update(Job).where(Job.id.in_(jobs)).values(upstream_batch_id=row.id)
            )
        return upstream_id, jobs

    return create


def _success(job_id: uuid.UUID, prompt: int, completion: int) -> dict[str, Any]:
    body = {
        "id": f"gen-batch-{uuid.uuid4().hex[:20]}",
        "object": "chat.completion",
        "model": "openai/gpt-4o-mini",
        "provider": "OpenAI",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return {
        "id": "batch_req_1",
        "custom_id": str(job_id),
        "response": {"status_code": 200, "request_id": None, "body": body},
        "error": None,
    }


def _batch(upstream_id: str, status: str, **fields: Any) -> dict[str, Any]:
    return {"id": upstream_id, "object": "batch", "status": status, **fields}


def _job(engine: Engine, job_id: uuid.UUID) -> Job:
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _attempts(engine: Engine, job_id: uuid.UUID) -> list[Attempt]:
    with Session(engine) as session:
        return list(session.scalars(select(Attempt).where(Attempt.job_id == job_id)))


def test_a_running_upstream_batch_is_polled_again_later(
    worker_process, batch_api, engine, sent_upstream
):
    upstream_id, _ = sent_upstream(1)
    batch_api.get(f"/batches/{upstream_id}").respond(
        200, json=_batch(upstream_id, "in_progress")
    )

    assert (
        follow_upstream_batches(
            _deps(worker_process, batch_api, ListSender()), SCHEDULE
        )
        == 0
    )
    with Session(engine) as session:
        row = session.scalar(
            select(UpstreamBatch).where(UpstreamBatch.upstream_id == upstream_id)
        )
        assert row is not None
        assert (row.status, row.poll_count) == ("in_progress", 1)
        assert row.next_poll_at is not None
        assert row.next_poll_at > datetime.now(UTC) + timedelta(seconds=5)


def test_results_end_jobs_with_discount_attempts_at_exact_apportioned_cost(
    worker_process, batch_api, engine, sent_upstream, tenant
):
    upstream_id, jobs = sent_upstream(3)
    total = Decimal("0.000123456789")
    failed = {
        "id": "batch_req_3",
        "custom_id": str(jobs[2]),
        "response": None,
        "error": {"message": "provider said no", "type": "invalid_request_error"},
    }
    results = [_success(jobs[0], 10, 5), _success(jobs[1], 30, 20), failed]
    batch = _batch(
        upstream_id, "completed", usage={"cost": str(total)}, results=results
    )
    batch_api.get(f"/batches/{upstream_id}").respond(200, json=batch)
    batch_api.get(f"/batches/{upstream_id}/results").respond(404, text="Not Found")
    sender = ListSender()

    assert (
        follow_upstream_batches(_deps(worker_process, batch_api, sender), SCHEDULE) == 1
    )

    first, second = _job(engine, jobs[0]), _job(engine, jobs[1])
    assert (first.status, second.status) == ("succeeded", "succeeded")
    assert first.cost_usd is not None
    assert second.cost_usd is not None
    assert first.cost_usd + second.cost_usd == total
    assert first.cost_usd < second.cost_usd
    assert first.result is not None
    assert first.result["choices"][0]["message"]["content"] == "hi"
    [attempt] = _attempts(engine, jobs[0])
    assert (attempt.lane, attempt.outcome, attempt.provider) == (
        "discount",
        "succeeded",
        "OpenAI",
    )
    assert attempt.generation_id is not None
    assert attempt.generation_id.startswith("gen-batch-")
    assert attempt.upstream_batch_id == first.upstream_batch_id
    assert (attempt.cost_source, attempt.cost_note) == ("reported", None)
    # The failed line runs realtime, published after the commit.
    third = _job(engine, jobs[2])
    assert (third.status, third.lane) == ("queued", "realtime")
    assert sender.sent == [(jobs[2], tenant_queue(tenant["slug"]), None)]
    [failure] = _attempts(engine, jobs[2])
    assert (failure.lane, failure.outcome) == ("discount", "permanent")

    # Polled again (say a second sweep): nothing is recorded twice.
    assert (
        follow_upstream_batches(_deps(worker_process, batch_api, sender), SCHEDULE) == 0
    )
    assert len(_attempts(engine, jobs[0])) == 1


def test_a_per_line_cost_is_taken_as_given(
    worker_process, batch_api, engine, sent_upstream
):
    upstream_id, jobs = sent_upstream(1)
    line = _success(jobs[0], 10, 5)
    line["response"]["body"]["usage"]["cost"] = "0.0000042"
    page = {"object": "list", "data": [line], "has_more": False, "next_cursor": None}
    batch_api.get(f"/batches/{upstream_id}").respond(
        200, json=_batch(upstream_id, "completed", usage={"cost": "0.0000042"})
    )
    batch_api.get(f"/batches/{upstream_id}/results").respond(200, json=page)

    follow_upstream_batches(_deps(worker_process, batch_api, ListSender()), SCHEDULE)

    assert _job(engine, jobs[0]).cost_usd == Decimal("0.0000042")


@pytest.mark.parametrize("status", ["failed", "expired", "cancelled"])
def test_every_line_of_an_upstream_batch_that_did_not_complete_runs_realtime(
    worker_process, batch_api, engine, sent_upstream, status
):
    upstream_id, jobs = sent_upstream(2)
    batch_api.get(f"/batches/{upstream_id}").respond(
        200, json=_batch(upstream_id, status, error={"message": "line 1 bad"})
    )
    sender = ListSender()

    follow_upstream_batches(_deps(worker_process, batch_api, sender), SCHEDULE)

    assert {_job(engine, j).lane for j in jobs} == {"realtime"}
    assert sorted(job for job, _, _ in sender.sent) == sorted(jobs)


def test_a_result_for_a_cancelled_job_is_kept_as_an_attempt_only(
    worker_process, batch_api, engine, sent_upstream
):
    upstream_id, jobs = sent_upstream(1)
    with Session(engine) as session, session.begin():
        session.execute(update(Job).where(Job.id == jobs[0]).values(status="cancelled"))
    batch = _batch(
        upstream_id,
        "completed",
        usage={"cost": "0.00001"},
        results=[_success(jobs[0], 10, 5)],
    )
    batch_api.get(f"/batches/{upstream_id}").respond(200, json=batch)
    batch_api.get(f"/batches/{upstream_id}/results").respond(404)

    follow_upstream_batches(_deps(worker_process, batch_api, ListSender()), SCHEDULE)

    assert _job(engine, jobs[0]).status == "cancelled"
    [attempt] = _attempts(engine, jobs[0])
    assert attempt.cost_usd == Decimal("0.00001")


def test_a_402_is_shown_and_polled_again(
    worker_process, batch_api, engine, sent_upstream
):
    upstream_id, _ = sent_upstream(1)
    batch_api.get(f"/batches/{upstream_id}").respond(
        402, json={"error": {"code": 402, "message": "Insufficient credits"}}
    )

    follow_upstream_batches(_deps(worker_process, batch_api, ListSender()), SCHEDULE)

    with Session(engine) as session:
        row = session.scalar(
            select(UpstreamBatch).where(UpstreamBatch.upstream_id == upstream_id)
        )
        assert row is not None
        assert row.results_stored_at is None
        assert "Insufficient credits" in (row.error or "")
        assert row.poll_count == 1
        assert row.payment_required_at is not None
        session.execute(
            update(UpstreamBatch)
            .where(UpstreamBatch.id == row.id)
            .values(next_poll_at=datetime.now(UTC))
        )
        session.commit()
    # Credits were added: the next poll clears it.
    batch_api.get(f"/batches/{upstream_id}").respond(
        200, json=_batch(upstream_id, "in_progress")
    )

    follow_upstream_batches(_deps(worker_process, batch_api, ListSender()), SCHEDULE)

    with Session(engine) as session:
        row = session.scalar(
            select(UpstreamBatch).where(UpstreamBatch.upstream_id == upstream_id)
        )
        assert row is not None
        assert row.payment_required_at is None
