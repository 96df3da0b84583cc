"""What one job costs each component: `python -m bench.component_costs`.

Owns its servers (bench.chaos.stack: an embedded PostgreSQL, a redis-server, the
simulator answering in 50 ms, one API process, one worker node of two processes,
beat), so that each one's CPU is its own. Warms up with `--warmup` jobs, then
submits `--jobs` jobs through the API (`POST /v1/jobs`, 32 at a time) and waits
until every one has ended. Over those jobs only: CPU seconds (user + system, from
/proc) of the API, the worker node, PostgreSQL (its backends, those that ended
included) and Redis, per job; Redis commands per job (INFO commandstats); Postgres
transactions and rows written per job (pg_stat_database; the job's path runs each
statement as its own transaction). Then the ceiling of one Redis (one core) and
the cores each component needs at 100, 1,000 and 10,000 jobs/s.
"""

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import psycopg
import redis

from bench.chaos.stack import ADMIN_TOKEN, Stack, running_stack, wait_until
from bench.job_clients import create_tenant, submit_job
from bench.proc_cpu import ended_children_cpu_s, tree_cpu_s

CONCURRENCY = 32
RATES = (100, 1_000, 10_000)
TOP_COMMANDS = 6
# A busy backend reports its counters at most once a second, an idle one within
# ten seconds (pg_stat_database lags by up to that much).
STATS_FLUSH_S = 11
_DATABASE_COUNTERS = (
    "SELECT xact_commit + xact_rollback, tup_inserted + tup_updated + tup_deleted"
    " FROM pg_stat_database WHERE datname = current_database()"
)


@dataclass(frozen=True)
class Snapshot:
    cpu_s: dict[str, float]
    redis_calls: dict[str, int]
    database: tuple[int, int]  # transactions, rows written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    args = parser.parse_args()
    with running_stack(Path(tempfile.mkdtemp(prefix="helixq-costs-"))) as stack:
        _, key = create_tenant(stack.api_url, ADMIN_TOKEN, "costs")
        _run_jobs(stack, key, args.warmup)
        time.sleep(STATS_FLUSH_S)
        before = _snapshot(stack, _database_counters(stack))
        started = time.monotonic()
        _run_jobs(stack, key, args.jobs)
        elapsed = time.monotonic() - started
        # CPU and Redis now; Postgres's counters once every backend has reported.
        after = _snapshot(stack, None)
        time.sleep(STATS_FLUSH_S)
        after = replace(after, database=_database_counters(stack))
    _report(before, after, args.jobs, elapsed)


def _run_jobs(stack: Stack, key: str, count: int) -> None:
    done_before = _ended(stack)
    asyncio.run(_submit(stack.api_url, key, count))
    wait_until(
        lambda: _ended(stack) >= done_before + count,
        timeout_s=60 + count / 10,
        what=f"{count} jobs ended",
    )


async def _submit(api_url: str, key: str, count: int) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            async with gate:
                await submit_job(session, api_url, key)

        await asyncio.gather(*(one() for _ in range(count)))


def _ended(stack: Stack) -> int:
    with psycopg.connect(stack.database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM jobs WHERE finished_at IS NOT NULL"
        ).fetchone()
    return int(row[0]) if row else 0


def _database_counters(stack: Stack) -> tuple[int, int]:
    """(transactions, rows written) of the database so far."""
    with psycopg.connect(stack.database_url) as connection:
        row = connection.execute(_DATABASE_COUNTERS).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _snapshot(stack: Stack, database: tuple[int, int] | None) -> Snapshot:
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    stats = client.info("commandstats")
    return Snapshot(
        cpu_s={
            "API": tree_cpu_s(stack.processes.pid("api")),
            "worker node": tree_cpu_s(stack.processes.pid("worker")),
            "beat": tree_cpu_s(stack.processes.pid("beat")),
            "PostgreSQL": _postgres_cpu_s(stack),
            "Redis": tree_cpu_s(stack.processes.pid("redis")),
        },
        redis_calls={
            name.removeprefix("cmdstat_"): int(values["calls"])
            for name, values in stats.items()
        },
        database=database or (0, 0),
    )


def _postgres_cpu_s(stack: Stack) -> float:
    """The postmaster and its live connection processes, and those that ended."""
    postmaster_pid = stack.work_dir / "pg" / "postmaster.pid"
    postmaster = int(postmaster_pid.read_text().split()[0])
    return tree_cpu_s(postmaster) + ended_children_cpu_s(postmaster)


def _report(before: Snapshot, after: Snapshot, jobs: int, elapsed_s: float) -> None:
    print(f"{jobs} jobs in {elapsed_s:.1f} s ({jobs / elapsed_s:.0f} jobs/s)")
    per_job_ms = {
        name: (after.cpu_s[name] - before.cpu_s[name]) * 1000 / jobs
        for name in after.cpu_s
    }
    print("| component | CPU ms per job |")
    print("| --- | --- |")
    for name, ms in per_job_ms.items():
        print(f"| {name} | {ms:.3f} |")
    calls = {
        name: count - before.redis_calls.get(name, 0)
        for name, count in after.redis_calls.items()
    }
    total = sum(calls.values())
    top = sorted(calls.items(), key=lambda item: -item[1])[:TOP_COMMANDS]
    print(f"Redis commands per job: {total / jobs:.1f}")
    print("  " + ", ".join(f"{name} {count / jobs:.2f}" for name, count in top))
    transactions = (after.database[0] - before.database[0]) / jobs
    rows = (after.database[1] - before.database[1]) / jobs
    print(f"Postgres transactions per job: {transactions:.1f}")
    print(f"Postgres rows written per job: {rows:.1f}")
    redis_ms = per_job_ms["Redis"]
    print(f"one Redis (one core): at most {1000 / redis_ms:,.0f} jobs/s")
    print("| jobs/s | API cores | worker cores | PostgreSQL cores | Redis core |")
    print("| --- | --- | --- | --- | --- |")
    for rate in RATES:
        cores = [
            rate * per_job_ms[name] / 1000
            for name in ("API", "worker node", "PostgreSQL", "Redis")
        ]
        print(f"| {rate:,} | " + " | ".join(f"{value:.1f}" for value in cores) + " |")


if __name__ == "__main__":
    main()
