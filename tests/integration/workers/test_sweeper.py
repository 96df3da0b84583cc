"""The sweeper re-sends jobs whose message may be lost, to their tenant queue."""

from datetime import UTC, datetime, timedelta

from shared.jobs import JobStatus
from shared.queues import tenant_queue
from shared.task_messages import Priority, redis_list_key
from tests.integration.workers.conftest import (
    ListSender,
    fetch_attempts,
    fetch_job,
    insert_attempt,
)
from workers.maintenance.sweeper import OVERDUE_STALE_PERIODS, requeue_stale_jobs

LEASE_S = 60
STALE_S = 60


def _sweep(worker_process, sender: ListSender) -> int:
    return requeue_stale_jobs(
        worker_process.sessions,
        sender,
        worker_process.redis,
        queued_stale_s=STALE_S,
        lease_s=LEASE_S,
        batch=100,
    )


def _ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


def test_calls_a_dead_worker_left_without_answer_are_marked_interrupted(
    worker_process, make_job, engine
):
    now = datetime.now(UTC)
    dead = make_job(status="running", lease_expires_at=now - timedelta(seconds=5))
    insert_attempt(engine, dead, outcome="started", started_at=_ago(LEASE_S + 5))
    alive = make_job(status="running", lease_expires_at=now + timedelta(seconds=50))
    insert_attempt(engine, alive, outcome="started", started_at=_ago(1))

    _sweep(worker_process, ListSender())

    [interrupted] = fetch_attempts(engine, dead)
    assert (interrupted.outcome, interrupted.error_code) == (
        "interrupted",
        "worker_lost",
    )
    assert interrupted.cost_usd is None
    [in_flight] = fetch_attempts(engine, alive)
    assert in_flight.outcome == "started"


def test_stale_queued_and_expired_running_jobs_are_re_sent(
    worker_process, make_job, tenant, engine
):
    now = datetime.now(UTC)
    stale = make_job(available_at=now - timedelta(minutes=5))
    expired = make_job(status="running", lease_expires_at=now - timedelta(seconds=5))
    make_job()  # fresh: its message is presumably still on its way
    make_job(status="running", lease_expires_at=now + timedelta(minutes=1))
    make_job(status="succeeded", available_at=now - timedelta(hours=1))
    sender = ListSender()

    count = _sweep(worker_process, sender)

    queue = tenant_queue(tenant["slug"])
    # The sweep is global: queued jobs other tests left past the stale period are
    # re-sent too, so only this tenant's are compared.
    assert count == len(sender.sent)
    mine = [sent for sent in sender.sent if sent[1] == queue]
    assert sorted(mine) == sorted([(stale, queue, None), (expired, queue, None)])
    job = fetch_job(engine, expired)
    assert (job.status, job.claim_token) == (JobStatus.QUEUED, None)


def test_a_re_sent_job_is_not_re_sent_again_within_the_stale_period(
    worker_process, make_job
):
    make_job(available_at=datetime.now(UTC) - timedelta(minutes=5))
    _sweep(worker_process, ListSender())
    sender = ListSender()

    assert _sweep(worker_process, sender) == 0
    assert sender.sent == []


def test_a_discount_lane_job_waiting_upstream_is_never_re_sent(
    worker_process, make_job
):
    make_job(lane="discount", available_at=datetime.now(UTC) - timedelta(hours=1))
    sender = ListSender()

    assert _sweep(worker_process, sender) == 0
    assert sender.sent == []


def _mine(sender: ListSender, tenant) -> list:
    return [sent[0] for sent in sender.sent if sent[1] == tenant_queue(tenant["slug"])]


def test_a_backlog_still_in_its_queue_is_not_re_sent_until_the_queue_empties(
    worker_process, make_job, tenant, redis_client
):
    """Workers draining a backlog slower than the stale period will reach these
    jobs' messages: re-sending them would copy the backlog into Redis each period."""
    waiting = make_job(available_at=_ago(STALE_S * 3))
    queue = redis_list_key(tenant_queue(tenant["slug"]), int(Priority.JOB))
    redis_client.lpush(queue, b"a message still waiting")

    first = ListSender()
    _sweep(worker_process, first)
    redis_client.delete(queue)
    second = ListSender()
    _sweep(worker_process, second)

    assert _mine(first, tenant) == []
    assert _mine(second, tenant) == [waiting]


def test_a_job_queued_for_many_stale_periods_is_re_sent_whatever_its_queue_holds(
    worker_process, make_job, tenant, redis_client
):
    """A message lost while the tenant's queue never empties waits this long."""
    overdue = make_job(available_at=_ago(STALE_S * OVERDUE_STALE_PERIODS + 5))
    make_job(available_at=_ago(STALE_S * 3))
    queue = redis_list_key(tenant_queue(tenant["slug"]), int(Priority.JOB))
    redis_client.lpush(queue, b"a message still waiting")
    sender = ListSender()

    try:
        _sweep(worker_process, sender)
    finally:
        redis_client.delete(queue)

    assert _mine(sender, tenant) == [overdue]
