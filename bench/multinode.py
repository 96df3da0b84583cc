"""Many nodes against one Redis and one Postgres: `make multinode`
(`python -m bench.multinode`).

Owns its servers, all on loopback: an embedded PostgreSQL and a redis-server
(bench.chaos.stack), the simulator on 127.0.0.1, and the nodes, each on its own
loopback address and in its own process group: two API nodes (127.0.0.2-3), three
worker nodes (127.0.0.4-6; each with its own host name when this runs as root, so
that Celery and the heartbeats tell them apart as they would on three machines)
and two beats (127.0.0.7-8). Only the API nodes listen; the address is where
they do.

Two tenants of weights 3 and 1 submit `--jobs` jobs between them through both API
nodes, as batches of `--batch` lines (so that both tenants' queues are deep and
their weights decide who goes next); a client whose node is gone sends again to
the other with the same Idempotency-Key, as a load balancer would. Every call
shares one provider limit of R requests/s (burst B). Mid-run one API node (half
the batches accepted) and one whole worker node (a quarter of the jobs ended) are
SIGKILLed (their process groups).

Checks: every accepted job terminal and succeeded; none doubled (no job with two
successful attempts, every simulator call on an attempt row, a job called twice
only when its first call was interrupted); the provider limit held across the
nodes (worst window of the simulator's calls ≤ B); the tenants' shares of calls
while both had work within 0.03 of their weights (one node keeps them within
0.013: docs/benchmarks.md, "Fairness"); each periodic task sent once per period
(the beats' logs).
"""

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import aiohttp
import httpx
import psycopg

from bench.chaos.stack import ADMIN_TOKEN, Stack, wait_until
from bench.job_clients import create_tenant, submit_batch
from bench.limits_harness import MODEL
from helixq.processes import answers, free_port
from shared.rate_limits import provider_of
from shared.token_bucket import worst_window
from workers.runtime.celery_app import BATCH_SWEEP_SCHEDULE_NAME, SWEEP_SCHEDULE_NAME

API_HOSTS = ("127.0.0.2", "127.0.0.3")
WORKER_HOSTS = ("127.0.0.4", "127.0.0.5", "127.0.0.6")
BEAT_HOSTS = ("127.0.0.7", "127.0.0.8")
WEIGHTS = {"heavy": 3, "light": 1}
FAIRNESS_TOLERANCE = 0.03
SUBMIT_CONCURRENCY = 4
SUBMIT_TIMEOUT = aiohttp.ClientTimeout(total=120)
LATENCY_MS = 50
# The beats' entries checked once per period, with their intervals (NODE_ENV).
SWEEP_INTERVAL_S = 2.0
PERIODIC = {
    SWEEP_SCHEDULE_NAME: SWEEP_INTERVAL_S,
    BATCH_SWEEP_SCHEDULE_NAME: SWEEP_INTERVAL_S,
}
NODE_ENV = {
    "HELIXQ_WORKER_PROCESSES": "1",
    "HELIXQ_API_WORKERS": "1",
    "HELIXQ_SWEEP_INTERVAL_S": f"{SWEEP_INTERVAL_S:g}s",
    "HELIXQ_BATCH_SWEEP_INTERVAL_S": f"{SWEEP_INTERVAL_S:g}s",
    "HELIXQ_SIM_LATENCY_MS": str(LATENCY_MS),
    # Long enough that no live node's claim expires on a loaded machine, short
    # enough that the killed node's jobs come back within the run.
    "HELIXQ_JOB_LEASE_S": "30s",
    # helixq's default: the queued jobs of a backlog older than this are sent
    # again on every sweep (a copy each), so chaos's 5 s would bury the workers
    # in copies of the backlog.
    "HELIXQ_QUEUED_STALE_S": "60s",
    "DATABASE_POOL_SIZE": "3",
    "DATABASE_MAX_OVERFLOW": "2",
}
_SENT = re.compile(r"Sending due task (\S+) ")
TERMINAL = ("succeeded", "failed", "cancelled", "expired")


@dataclass
class Run:
    stack: Stack
    api_urls: list[str] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)  # job id: tenant
    killed_api: str = ""
    killed_worker: str = ""
    beat_started: float = 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--batch", type=int, default=500, help="jobs a submission")
    args = parser.parse_args()
    work_dir = Path(tempfile.mkdtemp(prefix="helixq-multinode-"))
    stack = Stack(work_dir)
    limits = f"{provider_of(MODEL)}={args.rate:g}rps/burst={args.burst}"
    try:
        run = _start(stack, limits)
        failures = _run(run, args)
    finally:
        stack.stop_all()
    if failures:
        print(f"logs kept in {work_dir}")
        raise SystemExit("multinode: " + "; ".join(failures))
    shutil.rmtree(work_dir, ignore_errors=True)


def _start(stack: Stack, limits: str) -> Run:
    stack.start_postgres()
    stack.start_redis()
    stack.start_simulator()
    run = Run(stack)
    env = {**NODE_ENV, "HELIXQ_PROVIDER_LIMITS": limits}
    helixq = [sys.executable, "-m", "helixq"]
    for number, host in enumerate(API_HOSTS, start=1):
        port = free_port()
        argv = [*helixq, "api", "--host", host, "--port", str(port)]
        stack.start_process(f"api-{number}", argv, **env)
        run.api_urls.append(f"http://{host}:{port}")
    for number, host in enumerate(WORKER_HOSTS, start=1):
        stack.start_process(f"worker-{number}", _on_host(host, helixq, "worker"), **env)
    for number, url in enumerate(run.api_urls, start=1):
        stack.processes.wait_until_ready(
            partial(answers, f"{url}/healthz"),
            timeout_s=60,
            what=f"API {number}",
        )
    run.beat_started = time.time()
    for number, host in enumerate(BEAT_HOSTS, start=1):
        stack.start_process(f"beat-{number}", _on_host(host, helixq, "beat"), **env)
    return run


def _on_host(host: str, helixq: list[str], command: str) -> list[str]:
    """`helixq <command>` in its own UTS namespace named for `host` (root only:
    elsewhere the nodes share the machine's host name)."""
    argv = [*helixq, command]
    if shutil.which("unshare") is None or not _is_root():
        return argv
    name = f"node-{host.rsplit('.', 1)[1]}"
    return ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', name, *argv]


def _is_root() -> bool:
    return os.geteuid() == 0


def _run(run: Run, args: argparse.Namespace) -> list[str]:
    keys = {
        slug: create_tenant(run.api_urls[0], ADMIN_TOKEN, slug, weight=weight)[1]
        for slug, weight in WEIGHTS.items()
    }
    killer = threading.Thread(
        target=_kill_worker_node, args=(run, args.jobs), daemon=True
    )
    killer.start()
    started = time.monotonic()
    asyncio.run(_submit_all(run, keys, args))
    run.accepted = _accepted_jobs(run)
    print(f"{len(run.accepted)} jobs accepted in {time.monotonic() - started:.0f}s")
    deadline_s = args.jobs / args.rate * 2 + 180
    wait_until(lambda: _terminal(run) >= len(run.accepted), timeout_s=deadline_s,
               what="every accepted job terminal")  # fmt: skip
    print(f"every job terminal after {time.monotonic() - started:.0f}s")
    killer.join(timeout=5)
    return _check(run, args)


async def _submit_all(run: Run, keys: dict[str, str], args: argparse.Namespace) -> None:
    """Submit the jobs as batches of `--batch` lines, the tenants alternating,
    spread over the API nodes; the second API node is killed half-way."""
    gate = asyncio.Semaphore(SUBMIT_CONCURRENCY)
    slugs = list(keys)
    sizes = [args.batch] * (args.jobs // args.batch)
    sizes += [args.jobs % args.batch] if args.jobs % args.batch else []
    done = 0
    async with aiohttp.ClientSession(timeout=SUBMIT_TIMEOUT) as session:

        async def submit(number: int, lines: int) -> None:
            nonlocal done
            slug = slugs[number % 2]
            async with gate:
                await submit_batch(
                    session, run.api_urls, keys[slug], first=number // 2, lines=lines
                )
            done += 1
            if done == len(sizes) // 2 and not run.killed_api:
                run.killed_api = "api-2"
                await asyncio.to_thread(run.stack.kill, "api-2")
                print(f"SIGKILLed api-2 after {done} accepted batches", flush=True)

        await asyncio.gather(*(submit(n, lines) for n, lines in enumerate(sizes)))


def _kill_worker_node(run: Run, jobs: int) -> None:
    wait_until(
        lambda: _terminal(run) >= jobs // 4, timeout_s=jobs, what="a quarter done"
    )
    run.killed_worker = "worker-2"
    run.stack.kill("worker-2")
    print(f"SIGKILLed worker-2 (its process group) at {_terminal(run)} terminal jobs",
          flush=True)  # fmt: skip


def _accepted_jobs(run: Run) -> dict[str, str]:
    rows = _query(
        run,
        "SELECT j.id::text, t.slug FROM jobs j JOIN tenants t ON t.id = j.tenant_id",
    )
    return {str(job_id): str(slug) for job_id, slug in rows}


def _query(run: Run, sql: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(run.stack.database_url) as connection:
        return connection.execute(sql, params).fetchall()


def _terminal(run: Run) -> int:
    (row,) = _query(
        run, "SELECT count(*) FROM jobs WHERE status = ANY(%s)", list(TERMINAL)
    )
    return int(str(row[0]))


def _check(run: Run, args: argparse.Namespace) -> list[str]:
    failures: list[str] = []
    rows = _query(run, "SELECT status, count(*) FROM jobs GROUP BY status")
    statuses = {str(status): int(str(count)) for status, count in rows}
    _line("jobs accepted", len(run.accepted), f"= {args.jobs}")
    _line("jobs by status", statuses, "all succeeded")
    if len(run.accepted) != args.jobs or statuses != {"succeeded": args.jobs}:
        failures.append("not every job succeeded")
    failures += _check_doubles(run)
    failures += _check_rate(run, args)
    failures += _check_fairness(run)
    failures += _check_periodic(run)
    return failures


def _line(measure: str, value: object, bound: str) -> None:
    print(f"| {measure} | {value} | {bound} |", flush=True)


def _check_doubles(run: Run) -> list[str]:
    rows = _query(
        run,
        "SELECT job_id::text, count(*),"
        " count(*) FILTER (WHERE outcome = 'succeeded'),"
        " count(*) FILTER (WHERE outcome = 'interrupted')"
        " FROM attempts GROUP BY job_id",
    )
    ledger = {str(r[0]): (int(str(r[1])), int(str(r[2])), int(str(r[3]))) for r in rows}
    calls: dict[str, int] = httpx.get(f"{run.stack.sim_url}/_sim/calls").json()[
        "by_job"
    ]
    double_successes = sum(1 for _, won, _ in ledger.values() if won > 1)
    unrecorded = sum(
        max(0, made - ledger.get(job, (0, 0, 0))[0]) for job, made in calls.items()
    )
    twice = [job for job, made in calls.items() if made > 1]
    unexplained = [job for job in twice if ledger.get(job, (0, 0, 0))[2] == 0]
    _line("jobs with two successful attempts", double_successes, "= 0")
    _line("simulator calls without an attempt row", unrecorded, "= 0")
    _line("jobs called twice (first call interrupted)", len(twice), "")
    _line("jobs called twice with no interrupted attempt", len(unexplained), "= 0")
    if double_successes or unrecorded or unexplained:
        return ["a job ran twice"]
    return []


def _check_rate(run: Run, args: argparse.Namespace) -> list[str]:
    detail = httpx.get(f"{run.stack.sim_url}/_sim/calls?detail=1", timeout=60).json()
    arrivals = sorted(
        (call for call in detail["calls"] if call["model"]),
        key=lambda call: float(call["received_ts"]),
    )
    calls = [float(call["received_ts"]) for call in arrivals]
    span = calls[-1] - calls[0] if len(calls) > 1 else 0.0
    rate = f"{len(calls) / span:.1f}" if span else "-"
    _line("calls / s over the run", rate, f"<= R = {args.rate:g}")
    worst = worst_window(calls, args.rate)
    _line("worst window: calls - R*t, as they reached the simulator",
          f"{worst.excess:.2f}", f"<= B = {args.burst}")  # fmt: skip
    delays = _delays_ms(run, arrivals)
    _line("attempt start to arrival, ms p50 / p99 / max", _spread(delays), "")
    if worst.excess > 0:
        inside = arrivals[worst.first : worst.last + 1]
        _line(
            "that window: s into the run, ms long, calls; their start to arrival, ms",
            f"{calls[worst.first] - calls[0]:.1f}, "
            f"{(calls[worst.last] - calls[worst.first]) * 1000:.0f}, {len(inside)}; "
            + _spread(_delays_ms(run, inside)),
            "",
        )
    return ["the provider limit was exceeded"] if worst.excess > args.burst else []


def _delays_ms(run: Run, arrivals: list[dict[str, object]]) -> list[float]:
    """How long calls took from their attempt's start (a worker's clock, before the
    attempt row is written) to the simulator, for the jobs called once."""
    started = {
        str(job): float(str(at))
        for job, at in _query(
            run,
            "SELECT job_id::text, extract(epoch FROM min(started_at)) FROM attempts"
            " WHERE job_id = ANY(%s::uuid[]) GROUP BY job_id HAVING count(*) = 1",
            [str(call["job_id"]) for call in arrivals],
        )
    }
    return sorted(
        (float(str(call["received_ts"])) - started[str(call["job_id"])]) * 1000
        for call in arrivals
        if str(call["job_id"]) in started
    )


def _spread(values: list[float]) -> str:
    """p50 / p99 / max of sorted values."""
    if not values:
        return "-"
    p50, p99 = (values[int(q * (len(values) - 1))] for q in (0.5, 0.99))
    return f"{p50:.1f} / {p99:.1f} / {values[-1]:.1f}"


def _check_fairness(run: Run) -> list[str]:
    """Each tenant's share of the calls made while both had jobs waiting (created,
    not yet called)."""
    rows = _query(
        run,
        "SELECT t.slug, extract(epoch FROM j.created_at),"
        " extract(epoch FROM min(a.started_at))"
        " FROM jobs j JOIN tenants t ON t.id = j.tenant_id"
        " JOIN attempts a ON a.job_id = j.id GROUP BY t.slug, j.id",
    )
    created: dict[str, list[float]] = {slug: [] for slug in WEIGHTS}
    called: dict[str, list[float]] = {slug: [] for slug in WEIGHTS}
    for slug, created_at, called_at in rows:
        created[str(slug)].append(float(str(created_at)))
        called[str(slug)].append(float(str(called_at)))
    for times in (*created.values(), *called.values()):
        times.sort()

    def waiting(slug: str, at: float) -> int:
        return bisect_right(created[slug], at) - bisect_left(called[slug], at)

    counts = {
        slug: sum(
            1
            for at in called[slug]
            if all(waiting(other, at) > 0 for other in WEIGHTS if other != slug)
        )
        for slug in WEIGHTS
    }
    total = sum(counts.values())
    _line("calls while both tenants had jobs waiting", total, "> 0")
    if not total:
        return ["no backlog: the fairness between tenants was not exercised"]
    failures = []
    for slug, weight in WEIGHTS.items():
        expected = weight / sum(WEIGHTS.values())
        share = counts[slug] / total
        bound = f"{expected:.3f} ± {FAIRNESS_TOLERANCE}"
        _line(f"share of those calls, weight {weight}", f"{share:.3f}", bound)
        if abs(share - expected) > FAIRNESS_TOLERANCE:
            failures.append(f"tenant {slug} got {share:.3f} of the calls")
    return failures


def _check_periodic(run: Run) -> list[str]:
    sent: Counter[str] = Counter()
    for number in range(1, len(BEAT_HOSTS) + 1):
        log = run.stack.work_dir / f"beat-{number}.log"
        for line in log.read_text(errors="replace").splitlines():
            match = _SENT.search(line)
            if match:
                sent[match[1]] += 1
    ran_s = time.time() - run.beat_started
    failures = []
    for entry, interval_s in PERIODIC.items():
        allowed = int(ran_s / interval_s) + 2  # the first send and a partial period
        _line(
            f"{entry} sent by the beats in {ran_s:.0f}s", sent[entry], f"<= {allowed}"
        )
        if sent[entry] > allowed:
            failures.append(f"{entry} was sent more than once per period")
    return failures


if __name__ == "__main__":
    main()
