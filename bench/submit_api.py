"""The submit API: `python -m bench.submit_api`.

API CPU per answered request (user + system time of the API's processes, from
/proc, over the measured requests), rates and latency percentiles:

1. `POST /v1/jobs`, closed loop, 64 clients, no worker running (`--workers` API
   processes);
2. the same, one client, one request at a time;
3. `GET /v1/jobs/{id}` of a queued job, closed loop, 64 clients;
4. CPU per row of `POST /v1/batches` (inline JSON batches of 5,000);
5. open loop: a worker draining beside the API, 300 submits/s for 60 s; every
   job must be terminal afterwards.

Uses DATABASE_URL's server (database helixq_bench_submit, recreated) and
REDIS_URL's server (db index HELIXQ_BENCH_REDIS_DB, 2 unless set, flushed).
"""

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable

import psycopg
import redis

from bench.api_stack import Services, api, scratch_services
from bench.http_load import (
    Outcome,
    build_request,
    closed_loop,
    open_loop,
    sequential,
)
from bench.proc_cpu import tree_cpu_s
from bench.processes import simulator, worker_node
from shared import redis_keys

DATABASE = "helixq_bench_submit"
JOB = {
    "model": "openai/gpt-4o-mini",
    "messages": [{"role": "user", "content": "Say hello in one word."}],
    "max_tokens": 16,
}
TERMINAL = ("succeeded", "failed", "cancelled", "expired")
WARM_UP_S = 2.0


def job_request(url: str, key: str) -> Callable[[int], bytes]:
    request = build_request(
        "POST",
        f"{url}/v1/jobs",
        body=json.dumps(JOB).encode(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    return lambda _number: request


def measured(
    pid: int, run: Callable[[], Outcome], accepted: Callable[[Outcome], int]
) -> tuple[Outcome, float]:
    """Run the load; the outcome and the API's CPU ms per accepted unit."""
    before = tree_cpu_s(pid)
    outcome = run()
    spent = tree_cpu_s(pid) - before
    units = accepted(outcome)
    return outcome, (spent * 1000 / units if units else float("nan"))


def report(name: str, outcome: Outcome, cpu_ms: float | None = None) -> None:
    cpu = f", API CPU {cpu_ms:.3f} ms/request" if cpu_ms is not None else ""
    print(
        f"{name}: {len(outcome.ok)} answered 2xx in {outcome.elapsed_s:.1f} s = "
        f"{outcome.rate:.0f}/s, p50 {outcome.percentile_ms(0.5):.2f} ms, "
        f"p99 {outcome.percentile_ms(0.99):.2f} ms, non-2xx {outcome.not_ok} "
        f"{outcome.statuses()}{cpu}",
        flush=True,
    )


def closed(url: str, pid: int, key: str, clients: int, seconds: float) -> float:
    make = job_request(url, key)
    asyncio.run(closed_loop(url, make, clients=clients, seconds=WARM_UP_S))
    outcome, cpu_ms = measured(
        pid,
        lambda: asyncio.run(closed_loop(url, make, clients=clients, seconds=seconds)),
        lambda o: len(o.ok),
    )
    report(f"POST /v1/jobs, closed loop, {clients} clients", outcome, cpu_ms)
    return outcome.rate


def single(url: str, pid: int, key: str, seconds: float) -> None:
    make = job_request(url, key)
    outcome, cpu_ms = measured(
        pid,
        lambda: asyncio.run(closed_loop(url, make, clients=1, seconds=seconds)),
        lambda o: len(o.ok),
    )
    report("POST /v1/jobs, one client", outcome, cpu_ms)


def reads(url: str, pid: int, key: str, clients: int, seconds: float) -> None:
    """GET /v1/jobs/{id} of one queued job, as pollers do."""
    submitted = asyncio.run(sequential(url, [job_request(url, key)(0)]))
    job_id = json.loads(submitted.replies[0].body)["id"]
    request = build_request(
        "GET", f"{url}/v1/jobs/{job_id}", headers={"authorization": f"Bearer {key}"}
    )
    outcome, cpu_ms = measured(
        pid,
        lambda: asyncio.run(
            closed_loop(url, lambda _n: request, clients=clients, seconds=seconds)
        ),
        lambda o: len(o.ok),
    )
    report(f"GET /v1/jobs/{{id}}, closed loop, {clients} clients", outcome, cpu_ms)


def batches(url: str, pid: int, key: str, rows: int, count: int) -> None:
    bodies = [
        build_request(
            "POST",
            f"{url}/v1/batches",
            body=json.dumps(
                {
                    "requests": [
                        {"custom_id": f"{b}-{n}", "body": JOB} for n in range(rows)
                    ]
                }
            ).encode(),
            headers={
                "authorization": f"Bearer {key}",
                "content-type": "application/json",
            },
        )
        for b in range(count)
    ]
    outcome, cpu_ms = measured(
        pid,
        lambda: asyncio.run(sequential(url, bodies)),
        lambda o: len(o.ok) * rows,
    )
    print(
        f"POST /v1/batches, {len(outcome.ok)} x {rows} rows: "
        f"{len(outcome.ok) * rows / outcome.elapsed_s:,.0f} rows/s, "
        f"API CPU {cpu_ms:.3f} ms/row, statuses {outcome.statuses()}",
        flush=True,
    )


def reset(services: Services) -> None:
    """No jobs, no queued messages: the next scenario starts from nothing."""
    with psycopg.connect(services.database_url, autocommit=True) as connection:
        connection.execute("TRUNCATE jobs, batches CASCADE")
    redis.Redis.from_url(services.redis_url).flushdb()


def unfinished(services: Services) -> int:
    with psycopg.connect(services.database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM jobs WHERE status <> ALL(%s)", [list(TERMINAL)]
        ).fetchone()
    return int(row[0]) if row else 0


def drain(services: Services, timeout_s: float) -> int:
    """Wait until every job is terminal; the jobs still not, after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while (left := unfinished(services)) and time.monotonic() < deadline:
        time.sleep(1)
    return left


def wait_for_worker(services: Services, timeout_s: float = 60) -> None:
    """Until the worker beats (its start-up is not what is measured)."""
    client = redis.Redis.from_url(services.redis_url)
    deadline = time.monotonic() + timeout_s
    while not list(client.scan_iter(redis_keys.worker_heartbeat_pattern())):
        if time.monotonic() > deadline:
            raise SystemExit(f"no worker heartbeat within {timeout_s:g} s")
        time.sleep(0.2)
    client.close()


def open_rate(services: Services, options: argparse.Namespace) -> None:
    """Submits at a fixed rate while a worker drains the queue beside the API."""
    reset(services)
    with simulator(HELIXQ_SIM_LATENCY_MS=str(options.sim_latency_ms)) as sim_url:
        env = services.env(sim_url)
        node = worker_node(env, processes=options.worker_processes)
        with node, api(env, workers=options.workers) as (url, pid):
            make = job_request(url, services.tenant_key)
            wait_for_worker(services)
            # Not counted: a process's first requests open its connections and
            # prepare its statements.
            asyncio.run(open_loop(url, make, rate=options.open_rate, seconds=WARM_UP_S))
            outcome, cpu_ms = measured(
                pid,
                lambda: asyncio.run(
                    open_loop(
                        url, make, rate=options.open_rate, seconds=options.open_seconds
                    )
                ),
                lambda o: len(o.ok),
            )
            report(
                f"POST /v1/jobs, open loop {options.open_rate:g}/s for "
                f"{options.open_seconds:g} s, worker draining",
                outcome,
                cpu_ms,
            )
            left = drain(services, timeout_s=120)
            print(f"  jobs not terminal afterwards: {left}", flush=True)


def main() -> None:
    options = parse_args()
    services = scratch_services(
        DATABASE, int(os.environ.get("HELIXQ_BENCH_REDIS_DB", "2"))
    )
    env = services.env()
    key = services.tenant_key
    if "closed" in options.scenarios or "batch" in options.scenarios:
        with api(env, workers=options.workers) as (url, pid):
            if "closed" in options.scenarios:
                closed(url, pid, key, options.clients, options.seconds)
                single(url, pid, key, options.seconds)
                reads(url, pid, key, options.clients, options.seconds)
            if "batch" in options.scenarios:
                batches(url, pid, key, options.batch_rows, options.batches)
    if "open" in options.scenarios:
        open_rate(services, options)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=1, help="API processes")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch-rows", type=int, default=5000)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--open-rate", type=float, default=300.0)
    parser.add_argument("--open-seconds", type=float, default=60.0)
    parser.add_argument("--sim-latency-ms", type=int, default=300)
    parser.add_argument(
        "--worker-processes", type=int, default=1, help="of the draining worker"
    )
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=["closed", "batch", "open"],
        default=["closed", "batch", "open"],
    )
    return parser.parse_args()


if __name__ == "__main__":
    main()
