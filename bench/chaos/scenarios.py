"""One fault per scenario, injected while jobs are in flight, then the checks:
every job the API accepted terminal, no job with two successes, every call in the
simulator's log in the attempts ledger, the time from the fault to the last
terminal job, and the ledger's cost against the simulator's bill (bench.chaos.ledger).

The simulator is not reset between scenarios: its account's activity for the day
must stay comparable with the ledger's, which keeps every scenario's attempts."""

import asyncio
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

from bench.chaos.ledger import LedgerCheck, check_ledger
from bench.chaos.stack import ADMIN_TOKEN, Stack, wait_until
from bench.job_clients import create_tenant
from shared.queues import TaskName, tenant_queue

BODY = {
    "model": "openai/gpt-4o-mini",
    "messages": [{"role": "user", "content": "Say hello."}],
    "max_tokens": 16,
}
TERMINAL = ("succeeded", "failed", "cancelled", "expired")
RECOVERY_DEADLINE_S = 240
NODE_STOP_TIMEOUT_S = 20


SUBMIT_CONCURRENCY = 32
SUBMIT_RETRIES = 5


@dataclass(frozen=True)
class Row:
    scenario: str
    jobs: int
    terminal: int
    double_successes: int
    attempts: int
    interrupted: int
    sim_calls: int
    # Summed per job: calls the simulator answered beyond the job's attempt rows.
    calls_without_attempt: int
    recovery_s: float
    ledger: LedgerCheck

    @property
    def ok(self) -> bool:
        return (
            self.terminal == self.jobs
            and self.double_successes == 0
            and self.calls_without_attempt == 0
            and self.ledger.ok
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
        stack.processes.wait_for_exit("worker", timeout_s=NODE_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        # The survivor's warm shutdown outlived the manager's patience: SIGKILL,
        # as systemd's TimeoutStopSec or a pod's grace period would.
        stack.kill("worker")
    stack.start_worker()


BATCH_SCENARIO = "SIGKILL worker node x3, jobs submitted as a batch"

FAULTS: dict[str, Callable[[Stack], None]] = {
    "SIGKILL worker node x3": kill_node,
    # Batch items travel 16 to a message and are claimed together.
    BATCH_SCENARIO: kill_node,
    "SIGKILL a worker process": kill_worker_process,
    "FLUSHALL + Redis restart": lambda stack: stack.restart_redis_empty(),
    "Postgres stop 5 s + start": lambda stack: stack.bounce_postgres(5.0),
    "every message delivered twice": lambda _stack: None,
}


def run_scenario(stack: Stack, name: str, jobs: int) -> Row:
    slug, api_key = _create_tenant(stack)
    # The node stops while the API takes the jobs, so that they are all waiting
    # when it comes back, and most are still queued or in flight at the fault.
    stack.kill("worker", signal.SIGTERM)
    if name == BATCH_SCENARIO:
        _submit_batch(stack.api_url, api_key, jobs)
    else:
        job_ids = asyncio.run(_submit(stack.api_url, api_key, jobs))
        if name == "every message delivered twice":  # the API sent each once
            _publish(stack.redis_url, slug, job_ids)
    stack.start_worker()
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


def _create_tenant(stack: Stack) -> tuple[str, str]:
    """A fresh tenant per scenario, through the admin API: (slug, API key)."""
    return create_tenant(stack.api_url, ADMIN_TOKEN, f"chaos {uuid.uuid4().hex[:8]}")


async def _submit(api_url: str, api_key: str, count: int) -> list[str]:
    """Submit `count` jobs through the API, as clients would; the accepted ids."""
    headers = {"Authorization": f"Bearer {api_key}"}
    gate = asyncio.Semaphore(SUBMIT_CONCURRENCY)
    async with httpx.AsyncClient(base_url=api_url, headers=headers) as client:

        async def submit_one() -> str:
            async with gate:
                answer = await client.post("/v1/jobs", json=BODY)
                # A 503 (the API's database connections still dropping after the
                # Postgres scenario) is retried, as a client does.
                for _ in range(SUBMIT_RETRIES):
                    if answer.status_code != 503:
                        break
                    await asyncio.sleep(0.5)
                    answer = await client.post("/v1/jobs", json=BODY)
            answer.raise_for_status()
            return str(answer.json()["id"])

        return list(await asyncio.gather(*(submit_one() for _ in range(count))))


def _submit_batch(api_url: str, api_key: str, count: int) -> None:
    """Submit `count` jobs as one realtime batch through the API."""
    requests = [{"custom_id": f"row-{n}", "body": BODY} for n in range(count)]
    headers = {"Authorization": f"Bearer {api_key}"}
    # The realtime lane's path (the discount lane has its own scenarios).
    body = {"requests": requests, "lane": "realtime"}
    with httpx.Client(base_url=api_url, headers=headers, timeout=60) as client:
        client.post("/v1/batches", json=body).raise_for_status()


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
    ledger = _attempts_per_job(stack, slug)
    all_calls = httpx.get(f"{stack.sim_url}/_sim/calls").json()["by_job"]
    with psycopg.connect(stack.database_url) as connection:
        tenant_jobs = {str(row[0]) for row in connection.execute(_TENANT_JOBS, (slug,))}
    calls: dict[str, int] = {
        job_id: made for job_id, made in all_calls.items() if job_id in tenant_jobs
    }
    doubles = _query(
        stack,
        "SELECT count(*) FROM (SELECT job_id FROM attempts WHERE outcome = 'succeeded'"
        f" AND job_id IN ({_TENANT_JOBS}) GROUP BY job_id HAVING count(*) > 1) AS d",
        slug,
    )
    return Row(
        scenario=name,
        jobs=jobs,
        terminal=_terminal(stack, slug),
        double_successes=doubles,
        attempts=sum(rows for rows, _ in ledger.values()),
        interrupted=sum(interrupted for _, interrupted in ledger.values()),
        sim_calls=sum(calls.values()),
        calls_without_attempt=sum(
            max(0, made - ledger.get(job_id, (0, 0))[0])
            for job_id, made in calls.items()
        ),
        recovery_s=recovery_s,
        ledger=check_ledger(stack, slug),
    )


def _attempts_per_job(stack: Stack, slug: str) -> dict[str, tuple[int, int]]:
    """Job id → (attempt rows, of which interrupted)."""
    sql = (
        "SELECT job_id, count(*), count(*) FILTER (WHERE outcome = 'interrupted')"
        f" FROM attempts WHERE job_id IN ({_TENANT_JOBS}) GROUP BY job_id"
    )
    with psycopg.connect(stack.database_url) as connection:
        rows = connection.execute(sql, (slug,)).fetchall()
    return {str(job_id): (count, interrupted) for job_id, count, interrupted in rows}
