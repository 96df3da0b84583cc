"""The batch sweep: batches end once their items have, exactly once, with their
counts frozen and their event recorded; overdue jobs expire and are never claimed."""

import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from shared.jobs import BatchStatus, JobStatus
from tests.integration.workers.conftest import (
    fetch_deliveries,
    fetch_job,
    set_tenant_webhook,
)
from tests.unit.workers.payloads import completion_body
from workers.jobs.endings import OutcomeKind
from workers.maintenance import batches

pytestmark = pytest.mark.timeout(30)

TENANT_URL = "https://hooks.example.com/tenant"
LATER = timedelta(hours=1)


def _now() -> datetime:
    return datetime.now(UTC)


def _sweep(ctx, deliveries) -> int:
    return batches.finish_batches(ctx.sessions, deliveries)


def _fetch_batch(engine, batch_id):
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT * FROM batches WHERE id = :id"), {"id": batch_id}
        ).one()


def _succeed(engine, job_id) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE jobs SET status = 'succeeded', finished_at = now(),"
                " result = '{}' WHERE id = :id"
            ),
            {"id": job_id},
        )


def _finished(status: str, at: datetime | None = None) -> dict:
    return {"status": status, "finished_at": at or _now()}


def _counts(total: int, **ended: int) -> dict[str, int]:
    zero = {"succeeded": 0, "failed": 0, "cancelled": 0, "expired": 0}
    completed = ended.get("succeeded", 0)  # OpenAI's name for them
    return {"total": total, "completed": completed, **zero, **ended, "pending": 0}


@pytest.fixture(autouse=True)
def _tenant_url(engine, tenant):
    set_tenant_webhook(engine, tenant["id"], TENANT_URL)


def test_batch_whose_items_all_ended_completes_with_frozen_counts_and_one_event(
    worker_process, make_batch, make_job, engine, deliveries
):
    batch_id = make_batch(total=3, expires_at=_now() + LATER)
    make_job(batch_id=batch_id, **_finished("succeeded"))
    make_job(batch_id=batch_id, **_finished("succeeded"))
    make_job(batch_id=batch_id, **_finished("failed"))

    assert _sweep(worker_process, deliveries) == 1

    batch = _fetch_batch(engine, batch_id)
    assert batch.status == BatchStatus.COMPLETED
    assert batch.finalizing_at is not None
    assert batch.completed_at is not None
    assert batch.request_counts == _counts(3, succeeded=2, failed=1)
    [delivery] = fetch_deliveries(engine, batch_id)
    assert (delivery.event_type, delivery.url) == ("batch.completed", TENANT_URL)
    assert delivery.payload["data"]["request_counts"] == batch.request_counts
    assert deliveries.sent == [delivery.id]


def test_batch_whose_every_item_failed_fails(
    worker_process, make_batch, make_job, engine, deliveries
):
    batch_id = make_batch(total=2, expires_at=_now() + LATER)
    make_job(batch_id=batch_id, **_finished("failed"))
    make_job(batch_id=batch_id, **_finished("failed"))

    _sweep(worker_process, deliveries)

    batch = _fetch_batch(engine, batch_id)
    assert (batch.status, batch.failed_at is not None) == (BatchStatus.FAILED, True)
    assert batch.request_counts == _counts(2, failed=2)
    assert [row.event_type for row in fetch_deliveries(engine, batch_id)] == [
        "batch.failed"
    ]


def test_batch_with_an_item_left_to_run_stays_in_progress(
    worker_process, make_batch, make_job, engine, deliveries
):
    batch_id = make_batch(total=2, expires_at=_now() + LATER)
    make_job(batch_id=batch_id, **_finished("succeeded"))
    make_job(batch_id=batch_id, status="running")

    assert _sweep(worker_process, deliveries) == 0

    batch = _fetch_batch(engine, batch_id)
    assert (batch.status, batch.request_counts) == (BatchStatus.IN_PROGRESS, None)
    assert fetch_deliveries(engine, batch_id) == []


def test_expired_batch_keeps_partial_results_and_waits_for_running_items(
    worker_process, make_batch, make_job, engine, deliveries
):
    expires_at = _now() - timedelta(seconds=1)
    batch_id = make_batch(total=3, expires_at=expires_at)
    make_job(batch_id=batch_id, **_finished("succeeded", expires_at - LATER))
    queued = make_job(batch_id=batch_id, deadline_at=expires_at)
    running = make_job(batch_id=batch_id, status="running", deadline_at=expires_at)

    assert _sweep(worker_process, deliveries) == 0  # `running` may still finish

    assert fetch_job(engine, queued).status == JobStatus.EXPIRED
    assert _fetch_batch(engine, batch_id).status == BatchStatus.IN_PROGRESS
    _succeed(engine, running)  # its worker finishes it, result kept

    assert _sweep(worker_process, deliveries) == 1

    batch = _fetch_batch(engine, batch_id)
    assert (batch.status, batch.expired_at is not None) == (BatchStatus.EXPIRED, True)
    assert batch.request_counts == _counts(3, succeeded=2, expired=1)
    assert fetch_job(engine, running).result == {}
    assert [row.event_type for row in fetch_deliveries(engine, batch_id)] == [
        "batch.expired"
    ]


def test_cancelled_batch_gets_its_counts_frozen_once_running_items_end(
    worker_process, make_batch, make_job, engine, deliveries
):
    batch_id = make_batch(
        total=2, expires_at=_now() + LATER, status="cancelled", cancelled_at=_now()
    )
    make_job(batch_id=batch_id, **_finished("cancelled"))
    running = make_job(batch_id=batch_id, status="running")

    _sweep(worker_process, deliveries)
    assert _fetch_batch(engine, batch_id).request_counts is None
    _succeed(engine, running)

    assert _sweep(worker_process, deliveries) == 1

    batch = _fetch_batch(engine, batch_id)
    assert batch.status == BatchStatus.CANCELLED
    assert batch.request_counts == _counts(2, succeeded=1, cancelled=1)
    assert fetch_deliveries(engine, batch_id) == []  # the API recorded the event
    assert deliveries.sent == []


def test_cancelling_batch_is_cancelled_with_one_event_once_running_items_end(
    worker_process, make_batch, make_job, engine, deliveries
):
    batch_id = make_batch(
        total=2, expires_at=_now() + LATER, status="cancelling", cancelling_at=_now()
    )
    make_job(batch_id=batch_id, **_finished("cancelled"))
    running = make_job(batch_id=batch_id, status="running")

    assert _sweep(worker_process, deliveries) == 0
    assert _fetch_batch(engine, batch_id).status == BatchStatus.CANCELLING
    _succeed(engine, running)

    assert _sweep(worker_process, deliveries) == 1
    assert _sweep(worker_process, deliveries) == 0

    batch = _fetch_batch(engine, batch_id)
    assert batch.status == BatchStatus.CANCELLED
    assert batch.cancelled_at is not None
    assert batch.request_counts == _counts(2, succeeded=1, cancelled=1)
    events = fetch_deliveries(engine, batch_id)
    assert [event.event_type for event in events] == ["batch.cancelled"]


def test_two_concurrent_sweeps_end_each_batch_once_with_one_event(
    worker_process, make_batch, make_job, engine, deliveries
):
    batch_ids = [make_batch(total=1, expires_at=_now() + LATER) for _ in range(10)]
    for batch_id in batch_ids:
        make_job(batch_id=batch_id, **_finished("succeeded"))
    start = threading.Barrier(2)
    settled: list[int] = []

    def sweep() -> None:
        start.wait()
        settled.append(_sweep(worker_process, deliveries))

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sum(settled) == 10
    rows = [row for batch_id in batch_ids for row in fetch_deliveries(engine, batch_id)]
    assert len(rows) == 10
    assert sorted(deliveries.sent) == sorted(row.id for row in rows)
    assert _sweep(worker_process, deliveries) == 0  # nothing left to end


def test_single_jobs_past_their_deadline_expire_unless_running(
    worker_process, make_job, engine, deliveries
):
    past = _now() - timedelta(seconds=1)
    overdue = make_job(deadline_at=past)
    running = make_job(status="running", deadline_at=past)
    in_time = make_job(deadline_at=_now() + LATER)

    _sweep(worker_process, deliveries)

    job = fetch_job(engine, overdue)
    assert (job.status, job.finished_at is not None) == (JobStatus.EXPIRED, True)
    assert fetch_job(engine, running).status == JobStatus.RUNNING
    assert fetch_job(engine, in_time).status == JobStatus.QUEUED


def test_job_past_its_deadline_is_not_claimed(
    worker_process, openrouter_mock, make_job, engine
):
    route = openrouter_mock.post("/chat/completions").mock(
        return_value=httpx.Response(200, json=completion_body())
    )
    job_id = make_job(deadline_at=_now() - timedelta(seconds=1))

    outcome = worker_process.loop.run(worker_process.completions.run(job_id))

    assert outcome.kind is OutcomeKind.NOT_CLAIMED
    assert route.call_count == 0
    assert fetch_job(engine, job_id).status == JobStatus.QUEUED
