"""Worker throughput at 500 ms upstream latency: `python -m bench.worker_throughput`.

(a) a direct aiohttp client keeping IN_FLIGHT calls open for ~15 s;
(b) one worker node (`run_worker(processes=N)`, each process a threads-pool Celery
    worker with IN_FLIGHT / N jobs in flight on its event loop) draining pre-inserted
    jobs with every Postgres write; the clock runs from the first job's start to the
    last job's end. For jobs published as a batch is (MESSAGE_GROUP jobs a message,
    the API's batch path), then one message a job (as `POST /v1/jobs`), each
    `--runs` times (runs on a shared machine vary: compare medians).
Prints each run, then each way's median and range as ratios to (a). Uses
DATABASE_URL's server (database helixq_bench unless --database, recreated) and
REDIS_URL's server (db index HELIXQ_BENCH_REDIS_DB, flushed).
"""

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import redis
from celery import Celery

from bench.processes import simulator, worker_node
from broker_api.enqueue import CeleryEnqueuer
from helixq.scratch_services import fresh_database, redis_database
from shared.queues import TaskName, tenant_queue
from shared.task_messages import Priority

LATENCY_MS = 500
# What "one worker node" means in this benchmark (docs/benchmarks.md).
DEFAULT_PROCESSES = 2
BENCH_DATABASE = "helixq_bench"
API_KEY = "sk-or-v1-bench"
BODY = {
    "model": "openai/gpt-4o-mini",
    "messages": [{"role": "user", "content": "Say hello."}],
    "max_tokens": 16,
}


@dataclass(frozen=True)
class Options:
    in_flight: int
    direct_s: float
    jobs: int
    processes: int
    deadline_s: float
    publishing: tuple[str, ...]
    runs: int
    database: str


PUBLISHING = {
    "batch": "jobs submitted as a batch (16 a message)",
    "each": "one message a job (POST /v1/jobs)",
}


def main() -> None:
    """Run the measurements and print the figures."""
    options = _parse_args()
    with simulator(HELIXQ_SIM_LATENCY_MS=str(LATENCY_MS)) as base_url:
        direct = asyncio.run(_direct_rate(base_url, options))
        print(f"direct aiohttp, {options.in_flight} in flight: {direct:.0f} calls/s")
        rates = {
            publishing: [
                _one_run(base_url, options, publishing) for _ in range(options.runs)
            ]
            for publishing in options.publishing
        }
    for publishing, runs in rates.items():
        print(
            f"ratio worker/direct, {publishing}: median "
            f"{statistics.median(runs) / direct:.2f} (runs "
            f"{min(runs) / direct:.2f}-{max(runs) / direct:.2f}, "
            f"{statistics.median(runs):.0f} jobs/s)"
        )


def _one_run(base_url: str, options: Options, publishing: str) -> float:
    database_url, redis_url = _prepare_services(options.database)
    _reset_simulator(base_url)
    deadline = time.monotonic() + options.deadline_s
    worker, cpu_ms = _worker_rate(
        base_url, database_url, redis_url, options, deadline, publishing
    )
    calls = _sim_calls(base_url)
    print(
        f"worker node ({options.processes} process(es) x "
        f"{options.in_flight // options.processes} in flight), "
        f"{PUBLISHING[publishing]}: {worker:.0f} jobs/s, "
        f"{cpu_ms:.2f} ms worker CPU per job"
    )
    print(f"simulator saw {calls['total']} calls for {len(calls['by_job'])} jobs")
    return worker


def _parse_args() -> Options:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--in-flight", type=int, default=400)
    parser.add_argument("--direct-seconds", type=float, default=15.0)
    parser.add_argument("--jobs", type=int, default=12000)
    parser.add_argument("--processes", type=int, default=DEFAULT_PROCESSES)
    parser.add_argument(
        "--deadline-seconds", type=float, default=120.0, help="for each run"
    )
    parser.add_argument("--runs", type=int, default=3, help="for each way")
    parser.add_argument("--database", default=BENCH_DATABASE, help="recreated")
    parser.add_argument(
        "--publishing",
        choices=sorted(PUBLISHING),
        action="append",
        help="default: both",
    )
    args = parser.parse_args()
    return Options(
        args.in_flight,
        args.direct_seconds,
        args.jobs,
        args.processes,
        args.deadline_seconds,
        tuple(args.publishing or PUBLISHING),
        args.runs,
        args.database,
    )


def _prepare_services(database: str) -> tuple[str, str]:
    database_url = fresh_database(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        database,
    )
    redis_url = redis_database(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        int(os.environ.get("HELIXQ_BENCH_REDIS_DB", "13")),
    )
    redis.Redis.from_url(redis_url).flushdb()
    return database_url, redis_url


async def _direct_rate(base_url: str, options: Options) -> float:
    connector = aiohttp.TCPConnector(limit=options.in_flight)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    url = f"{base_url}/api/v1/chat/completions"
    done = 0
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        stop_at = time.monotonic() + options.direct_s

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < stop_at:
                async with session.post(url, json=BODY) as response:
                    await response.read()
                    done += response.status == 200

        started = time.monotonic()
        await asyncio.gather(*(loop() for _ in range(options.in_flight)))
        return done / (time.monotonic() - started)


def _worker_rate(
    base_url: str,
    database_url: str,
    redis_url: str,
    options: Options,
    deadline: float,
    publishing: str,
) -> tuple[float, float]:
    job_ids = _insert_jobs(database_url, options.jobs)
    if publishing == "batch":
        asyncio.run(_publish_batch(redis_url, job_ids))
    else:
        _publish_each(redis_url, job_ids)
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "OPENROUTER_API_KEY": API_KEY,
        "OPENROUTER_BASE_URL": f"{base_url}/api/v1",
        "HELIXQ_WORKER_INFLIGHT": str(options.in_flight // options.processes),
        # Postgres allows 100 connections, shared with whatever else runs here.
        "DATABASE_POOL_SIZE": str(max(2, 8 // options.processes)),
        "DATABASE_MAX_OVERFLOW": str(max(2, 8 // options.processes)),
    }
    with worker_node(env, processes=options.processes) as node_pid:
        start_s = _cpu_at_first_claim(database_url, node_pid, deadline)
        _wait_for_jobs(database_url, len(job_ids), deadline)
        pids = _process_tree(node_pid)
        cpu_s = sum(_cpu_s(pid) for pid in pids)
        system_s = sum(_cpu_s(pid, system_only=True) for pid in pids)
        print(
            f"worker CPU: {cpu_s:.1f}s, of which kernel {system_s:.1f}s; "
            f"{(cpu_s - start_s) * 1000 / len(job_ids):.2f} ms a job from the "
            "first claim (start-up left out)"
        )
    return _drain_rate(database_url), cpu_s * 1000 / len(job_ids)


def _cpu_at_first_claim(database_url: str, node_pid: int, deadline: float) -> float:
    """The node's CPU seconds when its first job leaves the queue: what start-up
    cost, which the per-job figure from there on leaves out."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE status <> 'queued')"
            ).fetchone()
            if row is not None and row[0]:
                return sum(_cpu_s(pid) for pid in _process_tree(node_pid))
            time.sleep(0.02)
    raise SystemExit("the worker claimed no job before the deadline")


def _insert_jobs(database_url: str, count: int) -> list[uuid.UUID]:
    tenant_id = uuid.uuid4()
    job_ids = [uuid.uuid4() for _ in range(count)]
    request = json.dumps(BODY)
    with psycopg.connect(database_url) as connection:
        connection.execute(
            "INSERT INTO tenants (id, slug, name) VALUES (%s, 'bench', 'bench')",
            (tenant_id,),
        )
        with connection.cursor().copy(
            "COPY jobs (id, tenant_id, status, request) FROM STDIN"
        ) as copy:
            for job_id in job_ids:
                copy.write_row((job_id, tenant_id, "queued", request))
    return job_ids


async def _publish_batch(redis_url: str, job_ids: list[uuid.UUID]) -> None:
    enqueuer = CeleryEnqueuer(redis_url)
    try:
        await enqueuer.enqueue_completions(job_ids, "bench", Priority.BATCH)
    finally:
        await enqueuer.close()


def _publish_each(redis_url: str, job_ids: list[uuid.UUID]) -> None:
    sender = Celery(broker=redis_url)
    sender.conf.update(task_serializer="json", accept_content=["json"])
    with sender.producer_or_acquire() as producer:
        for job_id in job_ids:
            sender.send_task(
                TaskName.RUN_COMPLETION.value,
                args=[str(job_id)],
                task_id=str(job_id),
                queue=tenant_queue("bench"),
                producer=producer,
            )


def _wait_for_jobs(database_url: str, count: int, deadline: float) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT count(*) FROM jobs WHERE status IN ('succeeded', 'failed')"
            ).fetchone()
            if row is not None and row[0] >= count:
                return
            time.sleep(0.25)
    raise SystemExit("the worker did not drain the jobs before the deadline")


def _drain_rate(database_url: str) -> float:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FILTER (WHERE status = 'succeeded'),"
            " extract(epoch FROM max(finished_at) - min(started_at)),"
            " (SELECT count(*) FROM attempts) FROM jobs"
        ).fetchone()
    assert row is not None
    succeeded, elapsed_s, attempts = row
    print(f"worker: {succeeded} jobs succeeded, {attempts} attempts, {elapsed_s:.1f}s")
    return float(succeeded) / float(elapsed_s)


def _reset_simulator(base_url: str) -> None:
    async def reset() -> None:
        url = f"{base_url}/_sim/reset"
        async with aiohttp.ClientSession() as session, session.post(url) as response:
            response.raise_for_status()

    asyncio.run(reset())


def _sim_calls(base_url: str) -> dict[str, Any]:
    async def fetch() -> dict[str, Any]:
        url = f"{base_url}/_sim/calls"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return dict(await response.json())

    return asyncio.run(fetch())


def _process_tree(pid: int) -> list[int]:
    children = [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    return [pid, *(grandchild for c in children for grandchild in _process_tree(c))]


def _cpu_s(pid: int, *, system_only: bool = False) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    return (system if system_only else user + system) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
