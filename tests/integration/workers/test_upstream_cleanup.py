"""Cancelling a batch cancels its upstream batches where OpenRouter allows, what
still arrives is recorded without changing the cancelled jobs, an upstream batch
not yet sent is never sent, and stored upstream batches are deleted upstream."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from shared.db.models import Attempt, Job
from shared.db.upstream_batches import UpstreamBatch
from tests.factories import make_job_body
from tests.integration.workers.conftest import BATCH_API_URL, ListSender, fetch_job
from workers.maintenance.discount_lane import DiscountConfig, DiscountDeps
from workers.maintenance.discount_submission import submit_discount_lines
from workers.maintenance.upstream_cleanup import (
    cancel_upstream_batches,
    delete_stored_upstream_batches,
)
from workers.maintenance.upstream_polling import PollSchedule, follow_upstream_batches
from workers.openrouter.batches import BatchApi

SCHEDULE = PollSchedule(first_s=5, max_s=300)


def _deps(worker_process, router: respx.MockRouter, **config: Any) -> DiscountDeps:
    client = httpx.Client(transport=httpx.MockTransport(router.handler))
    settings: dict[str, Any] = {
        "max_requests": 10,
        "max_bytes": 10**6,
        "reconcile_after_s": 30,
    }
    return DiscountDeps(
        worker_process.sessions,
        BatchApi(client, BATCH_API_URL),
        ListSender(),
        DiscountConfig(**{**settings, **config}),
    )


def _discount_batch(make_batch, make_job, count: int) -> tuple[uuid.UUID, list]:
    expires = datetime.now(UTC) + timedelta(days=1)
    batch_id = make_batch(total=count, expires_at=expires, lane="discount")
    model = f"c-{uuid.uuid4().hex[:6]}/m"
    request = json.dumps(make_job_body(model=model))
    jobs = [
        make_job(batch_id=batch_id, lane="discount", request=request)
        for _ in range(count)
    ]
    return batch_id, jobs


def _send_upstream(engine: Engine, batch_id, jobs, tenant) -> str:
    upstream_id = f"batch-{uuid.uuid4().hex}"
    with Session(engine) as session, session.begin():
        row = UpstreamBatch(
            batch_id=batch_id,
            tenant_id=tenant["id"],
            model="openai/gpt-4o-mini",
            upstream_id=upstream_id,
            status="in_progress",
            request_count=len(jobs),
            body_bytes=100,
            sent_at=datetime.now(UTC),
            next_poll_at=datetime.now(UTC) + timedelta(hours=1),
        )
        session.add(row)
        session.flush()
        session.execute(
            update(Job).where(Job.id.in_(jobs)).values(upstream_batch_id=row.id)
        )
    return upstream_id


def _cancel_batch(engine: Engine, batch_id: uuid.UUID) -> None:
    """What the API's cancel does: queued items cancelled, the batch cancelling."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE jobs SET status = 'cancelled', finished_at = now() "
                "WHERE batch_id = :id AND status = 'queued'"
            ),
            {"id": batch_id},
        )
        connection.execute(
            text(
                "UPDATE batches SET status = 'cancelled', cancelling_at = now() "
                "WHERE id = :id"
            ),
            {"id": batch_id},
        )


def _store(engine: Engine, upstream_id: str) -> None:
    """The upstream batch completed and its results were stored."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE upstream_batches SET status = 'completed', "
                "results_stored_at = now() WHERE upstream_id = :id"
            ),
            {"id": upstream_id},
        )


def _row(engine: Engine, upstream_id: str) -> UpstreamBatch:
    with Session(engine) as session:
        row = session.scalar(
            select(UpstreamBatch).where(UpstreamBatch.upstream_id == upstream_id)
        )
        assert row is not None
        return row


def _line(job_id: uuid.UUID) -> dict[str, Any]:
    body = {
        "id": f"gen-batch-{uuid.uuid4().hex[:20]}",
        "object": "chat.completion",
        "model": "openai/gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }
    return {
        "id": "r",
        "custom_id": str(job_id),
        "response": {"status_code": 200, "body": body},
        "error": None,
    }


@pytest.mark.parametrize("answer", [200, 403, 404])
def test_a_cancelled_batch_cancels_upstream_and_late_results_stay_attempts(
    worker_process, batch_api, engine, make_batch, make_job, tenant, answer
):
    batch_id, jobs = _discount_batch(make_batch, make_job, 2)
    upstream_id = _send_upstream(engine, batch_id, jobs, tenant)
    _cancel_batch(engine, batch_id)
    cancel = batch_api.post(f"/batches/{upstream_id}/cancel").respond(
        answer, json={"id": upstream_id, "status": "in_progress"}
    )
    deps = _deps(worker_process, batch_api)

    cancel_upstream_batches(deps)
    cancel_upstream_batches(deps)  # asked once: the second pass skips it

    assert cancel.call_count == 1
    row = _row(engine, upstream_id)
    assert row.cancel_sent_at is not None
    if answer != 200:
        assert str(answer) in (row.error or "")
    # The upstream batch had finished one line before the cancel: it is billed.
    finished = {
        "id": upstream_id,
        "status": "completed",
        "usage": {"cost": "0.00001"},
        "results": [_line(jobs[0])],
    }
    batch_api.get(f"/batches/{upstream_id}").respond(200, json=finished)
    batch_api.get(f"/batches/{upstream_id}/results").respond(404)

    follow_upstream_batches(deps, SCHEDULE)

    assert [fetch_job(engine, j).status for j in jobs] == ["cancelled", "cancelled"]
    with Session(engine) as session:
        attempts = list(
            session.scalars(select(Attempt).where(Attempt.job_id == jobs[0]))
        )
    assert [(a.lane, a.outcome, a.cost_usd) for a in attempts] == [
        ("discount", "succeeded", Decimal("0.00001"))
    ]


def test_an_upstream_batch_of_a_cancelled_batch_is_never_sent(
    worker_process, batch_api, engine, make_batch, make_job
):
    batch_id, jobs = _discount_batch(make_batch, make_job, 2)
    posted: list[Any] = []

    def record(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if {r["custom_id"] for r in body["requests"]} & {str(j) for j in jobs}:
            posted.append(body)
        return httpx.Response(500)

    batch_api.post("/batches").mock(side_effect=record)
    deps = _deps(worker_process, batch_api)
    with engine.begin() as connection:  # grouped in an earlier pass, not sent yet
        connection.execute(
            text(
                "INSERT INTO upstream_batches (id, batch_id, tenant_id, model, "
                "status, request_count, body_bytes) SELECT :row, :batch, tenant_id, "
                "'x/m', 'submitting', 2, 10 FROM batches WHERE id = :batch"
            ),
            {"row": uuid.uuid4(), "batch": batch_id},
        )
        connection.execute(
            text(
                "UPDATE jobs SET upstream_batch_id = (SELECT id FROM upstream_batches "
                "WHERE batch_id = :batch) WHERE batch_id = :batch"
            ),
            {"batch": batch_id},
        )
    _cancel_batch(engine, batch_id)

    submit_discount_lines(deps)

    assert posted == []
    with Session(engine) as session:
        [row] = session.scalars(
            select(UpstreamBatch).where(UpstreamBatch.batch_id == batch_id)
        )
    assert row.status == "withdrawn"
    assert row.results_stored_at is not None


def test_stored_upstream_batches_are_deleted_upstream_once(
    worker_process, batch_api, engine, make_batch, make_job, tenant
):
    batch_id, jobs = _discount_batch(make_batch, make_job, 1)
    upstream_id = _send_upstream(engine, batch_id, jobs, tenant)
    _store(engine, upstream_id)
    deleted = batch_api.delete(f"/batches/{upstream_id}").respond(
        200, json={"id": upstream_id, "object": "batch", "deletion": {}}
    )
    deps = _deps(worker_process, batch_api)

    delete_stored_upstream_batches(deps)
    delete_stored_upstream_batches(deps)

    assert deleted.call_count == 1
    assert _row(engine, upstream_id).deleted_at is not None


def test_deleting_is_a_setting(
    worker_process, batch_api, engine, make_batch, make_job, tenant
):
    batch_id, jobs = _discount_batch(make_batch, make_job, 1)
    upstream_id = _send_upstream(engine, batch_id, jobs, tenant)
    _store(engine, upstream_id)
    deleted = batch_api.delete(f"/batches/{upstream_id}").respond(200, json={})

    delete_stored_upstream_batches(
        _deps(worker_process, batch_api, delete_stored=False)
    )

    assert deleted.call_count == 0
