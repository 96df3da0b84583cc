"""One fault per scenario, injected while jobs are in flight, then the checks:
every job terminal, no job with two successes, attempt rows against the
simulator's call log, and the time from the fault to the last terminal job."""

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psycopg
from celery import Celery

from bench.chaos.stack import Stack, wait_until
from shared.queues import TaskName, tenant_queue

BODY = {
    "model": "openai/gpt-4o-mini",
    "messages": [{"role": "user", "content": "Say hello."}],
    "max_tokens": 16,
}
TERMINAL = ("succeeded", "failed", "cancelled", "expired")
RECOVERY_DEADLINE_S = 240
NODE_STOP_TIMEOUT_S = 20


@dataclass(frozen=True)
class Row:
    scenario: str
    jobs: int
    terminal: int
    double_successes: int
    attempts: int
    sim_calls: int
    recovery_s: float

    @property
    def calls_without_attempt(self) -> int:
        return max(0, self.sim_calls - self.attempts)

    @property
    def ok(self) -> bool:
        return (
            self.terminal == self.jobs
            and self.double_successes == 0
            and self.attempts <= self.sim_calls
        )


def kill_node(stack: Stack, times: int = 3) -> None:
    """SIGKILL the worker node (supervisor and workers) and restart it, repeatedly."""
    for _ in range(times):
        stack.kill("worker")
        stack.start_worker()
        time.sleep(3)


def kill_worker_process(stack: Stack) -> None:
    """SIGKILL one of the node's worker processes. The node then stops as a whole
    (its contract), and this runner, standing in for systemd or Kubernetes,
    restarts it."""
    os.kill(stack.worker_processes()[0], signal.SIGKILL)
    try:
        stack.children["worker"].wait(timeout=NODE_STOP_TIMEOUT_S)
        stack.children.pop("worker")
    except subprocess.TimeoutExpired:
        # The survivor's warm shutdown outlived the manager's patience: SIGKILL,
        # as systemd's TimeoutStopSec or a pod's grace period would.
        stack.kill("worker")
    stack.start_worker()


FAULTS: dict[str, Callable[[Stack], None]] = {
    "SIGKILL worker node x3": kill_node,
    "SIGKILL a worker process": kill_worker_process,
    "FLUSHALL + Redis restart": lambda stack: stack.restart_redis_empty(),
    "Postgres stop 5 s + start": lambda stack: stack.bounce_postgres(5.0),
    "every message delivered twice": lambda _stack: None,
}


def run_scenario(stack: Stack, name: str, jobs: int) -> Row:
    httpx.post(f"{stack.sim_url}/_sim/reset").raise_for_status()
    slug = f"chaos-{uuid.uuid4().hex[:8]}"
    job_ids = _insert_jobs(stack.database_url, slug, jobs)
    copies = 2 if name == "every message delivered twice" else 1
    _publish(stack.redis_url, slug, job_ids * copies)
    wait_until(
        lambda: _terminal(stack, slug) >= jobs // 4,
        timeout_s=120,
        what="a quarter of the jobs terminal",
    )
    fault_at = time.monotonic()
    FAULTS[name](stack)
    deadline = fault_at + RECOVERY_DEADLINE_S
    while _terminal(stack, slug) < jobs and time.monotonic() < deadline:
        time.sleep(0.25)
    recovery_s = time.monotonic() - fault_at
    return _check(stack, name, slug, jobs, recovery_s)


def _insert_jobs(database_url: str, slug: str, count: int) -> list[str]:
    tenant_id = uuid.uuid4()
    job_ids = [str(uuid.uuid4()) for _ in range(count)]
    with psycopg.connect(database_url) as connection:
        connection.execute(
            "INSERT INTO tenants (id, slug, name) VALUES (%s, %s, %s)",
            (tenant_id, slug, slug),
        )
        with connection.cursor().copy(
            "COPY jobs (id, tenant_id, status, request) FROM STDIN"
        ) as copy:
            for job_id in job_ids:
                copy.write_row((job_id, tenant_id, "queued", json.dumps(BODY)))
    return job_ids


def _publish(redis_url: str, slug: str, job_ids: list[str]) -> None:
    sender = Celery(broker=redis_url, set_as_current=False)
    sender.conf.update(task_serializer="json", accept_content=["json"])
    with sender.producer_or_acquire() as producer:
        for job_id in job_ids:
            sender.send_task(
                TaskName.RUN_COMPLETION.value,
                args=[job_id],
                task_id=job_id,
                queue=tenant_queue(slug),
                producer=producer,
            )


def _query(stack: Stack, sql: str, slug: str) -> int:
    try:
        with psycopg.connect(stack.database_url, connect_timeout=2) as connection:
            row = connection.execute(sql, (slug,)).fetchone()
    except psycopg.OperationalError:
        return -1  # Postgres is down (the Postgres scenario): not done yet
    return int(row[0]) if row else 0


_TENANT_JOBS = (
    "SELECT j.id FROM jobs j JOIN tenants t ON t.id = j.tenant_id WHERE t.slug = %s"
)


def _terminal(stack: Stack, slug: str) -> int:
    return _query(
        stack,
        f"SELECT count(*) FROM ({_TENANT_JOBS} AND j.status IN {TERMINAL}) AS done",
        slug,
    )


def _check(stack: Stack, name: str, slug: str, jobs: int, recovery_s: float) -> Row:
    attempts = _query(
        stack, f"SELECT count(*) FROM attempts WHERE job_id IN ({_TENANT_JOBS})", slug
    )
    doubles = _query(
        stack,
        "SELECT count(*) FROM (SELECT job_id FROM attempts WHERE outcome = 'succeeded'"
        f" AND job_id IN ({_TENANT_JOBS}) GROUP BY job_id HAVING count(*) > 1) AS d",
        slug,
    )
    calls = httpx.get(f"{stack.sim_url}/_sim/calls").json()["by_job"]
    return Row(
        scenario=name,
        jobs=jobs,
        terminal=_terminal(stack, slug),
        double_successes=doubles,
        attempts=attempts,
        sim_calls=sum(calls.values()),
        recovery_s=recovery_s,
    )
