"""Redis behind Sentinel (`REDIS_URL=sentinel://...`): the master is killed while
jobs are submitted and run, Sentinel promotes the replica, and every job the API
took ends once, with one upstream call.

Replication is asynchronous, so the messages pushed just before the kill may be
missing on the replica: the jobs are in Postgres, and the stale-job sweep sends
them again."""

import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from sqlalchemy import Engine

from tests.e2e.conftest import Client, Stack, _tenant_client, own_stack
from tests.factories import make_job_body
from tests.polling import wait_until
from tests.sentinel import SentinelGroup, require_sentinel, sentinel_group
from tests.services import Services, engine_on, separate_services

pytestmark = pytest.mark.timeout(240)

JOBS = 400
KILLED_AFTER = 150  # jobs accepted before the master goes
SUBMIT_PAUSE_S = 0.01  # the submissions outlast the failover
ACCEPT_TIMEOUT_S = 60  # a job submitted during the failover is re-submitted
FINISH_TIMEOUT_S = 120
TERMINAL = ("succeeded", "failed", "cancelled", "expired")


@pytest.fixture(scope="module")
def failover_database(services: Services) -> str:
    require_sentinel()
    return separate_services(services, "sentinel").database_url


@pytest.fixture(scope="module")
def group() -> Iterator[SentinelGroup]:
    with sentinel_group() as running:
        yield running


@pytest.fixture(scope="module")
def failover_engine(failover_database: str) -> Iterator[Engine]:
    with engine_on(failover_database) as engine:
        yield engine


@pytest.fixture(scope="module")
def failover_stack(failover_database: str, group: SentinelGroup) -> Iterator[Stack]:
    services = Services(failover_database, group.url)
    with own_stack(services, "sentinel", {}, beat=True) as stack:
        yield stack


def _accepted(client: Client, deadline: float) -> str:
    """Submit one job until the API takes it; the same Idempotency-Key each time,
    so a submission answered during the failover is never taken twice."""
    key = uuid.uuid4().hex
    while True:
        try:
            response = client.http.post(
                "/v1/jobs", json=make_job_body(), headers={"Idempotency-Key": key}
            )
            if response.status_code == 202:
                job_id: str = response.json()["id"]
                return job_id
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("a submission was refused for a minute")
        time.sleep(0.2)


def _unfinished(database_url: str, job_ids: list[str]) -> int:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM jobs WHERE id = ANY(%s::uuid[])"
            " AND status <> ALL(%s)",
            (job_ids, list(TERMINAL)),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_killing_the_master_loses_no_job(
    failover_stack: Stack,
    failover_engine: Engine,
    failover_database: str,
    group: SentinelGroup,
) -> None:
    clients = [_tenant_client(failover_engine, failover_stack) for _ in range(2)]
    job_ids: list[str] = []
    killed = threading.Event()

    def kill_when_due() -> None:
        wait_until(lambda: len(job_ids) >= KILLED_AFTER, timeout_s=60, what="the jobs")
        group.kill("master")
        killed.set()

    killer = threading.Thread(target=kill_when_due, daemon=True)
    killer.start()
    try:
        for number in range(JOBS):
            deadline = time.monotonic() + ACCEPT_TIMEOUT_S
            job_ids.append(_accepted(clients[number % 2], deadline))
            time.sleep(SUBMIT_PAUSE_S)
        killer.join(timeout=60)
        assert killed.is_set()
        wait_until(
            lambda: group.master_address() == ("127.0.0.1", group.replica_port),
            timeout_s=30,
            what="Sentinel to promote the replica",
        )
        wait_until(
            lambda: _unfinished(failover_database, job_ids) == 0,
            timeout_s=FINISH_TIMEOUT_S,
            what="every accepted job to end",
        )
    finally:
        for client in clients:
            client.http.close()
    assert len(set(job_ids)) == JOBS
    with psycopg.connect(failover_database) as connection:
        statuses = connection.execute(
            "SELECT status, count(*) FROM jobs WHERE id = ANY(%s::uuid[])"
            " GROUP BY status",
            (job_ids,),
        ).fetchall()
    assert dict(statuses) == {"succeeded": JOBS}
    by_job = failover_stack.simulator_calls()["by_job"]
    assert isinstance(by_job, dict)
    assert sorted({by_job.get(job_id) for job_id in job_ids}) == [1]
