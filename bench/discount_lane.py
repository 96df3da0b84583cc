"""The discount lane: `python -m bench.discount_lane`.

(a) Cost: a 1,000-line batch over three models on lane `discount`, then the same
    lines on lane `realtime`; the ledger's cost of each (the sum of the lines'
    attempts) and their ratio (goal: at most 0.55), with the CPU per line of the
    broker's processes (API, worker node, beat) on the discount lane, from /proc.
(b) Submission: 50,000 lines over two models posted on lane `discount` (JSONL),
    timed from the start of the POST until every line is in an upstream batch the
    simulator accepted (goal: under 60 s), with the CPU per line of the same
    processes over that time.

Runs the simulator, an API process, a worker node of one process and beat. Uses
DATABASE_URL's server (database helixq_bench_discount, recreated) and REDIS_URL's
server (db index HELIXQ_BENCH_REDIS_DB, 3 unless set, flushed).
"""

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from bench.api_stack import SIMULATOR_KEY, Services, api, scratch_services
from bench.proc_cpu import tree_cpu_s
from bench.processes import ROOT, simulator, worker_node
from helixq.processes import Supervisor
from shared.db.session import make_sessions, psycopg_url
from workers.maintenance.catalog_sync import sync_catalog

DATABASE = "helixq_bench_discount"
COST_MODELS = (
    "openai/gpt-4o-mini",
    "anthropic/claude-3.5-haiku",
    "google/gemini-2.0-flash-001",
)
SUBMIT_MODELS = COST_MODELS[:2]
LANE_ENV = {
    "HELIXQ_DISCOUNT_INTERVAL_S": "1",
    "HELIXQ_DISCOUNT_POLL_FIRST_S": "1",
    "HELIXQ_DISCOUNT_POLL_MAX_S": "2",
    "HELIXQ_BATCH_SWEEP_INTERVAL_S": "1",
}
SIM_SETTINGS = {
    "HELIXQ_SIM_LATENCY_MS": "50",
    "HELIXQ_SIM_BATCH_VALIDATING_S": "1",
    "HELIXQ_SIM_BATCH_IN_PROGRESS_S": "3",
}
DONE_TIMEOUT_S = 600


@dataclass(frozen=True)
class Stack:
    services: Services
    api_url: str
    pids: tuple[int, ...]
    engine: Engine

    def cpu_s(self) -> float:
        return sum(tree_cpu_s(pid) for pid in self.pids)

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.services.tenant_key}"}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=300)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar_one()


@contextmanager
def _beat(env: dict[str, str]) -> Iterator[int]:
    code = "from workers.entrypoints import run_beat; run_beat(loglevel='WARNING')"
    log = Path(tempfile.gettempdir()) / "helixq-bench-beat.log"
    supervisor = Supervisor(cwd=ROOT)
    try:
        yield supervisor.start("beat", [sys.executable, "-c", code], env, log=log)
    finally:
        supervisor.stop_all(10)


@contextmanager
def running_stack() -> Iterator[Stack]:
    services = scratch_services(
        DATABASE, int(os.environ.get("HELIXQ_BENCH_REDIS_DB", "3"))
    )
    engine = create_engine(psycopg_url(services.database_url))
    with simulator(**SIM_SETTINGS) as sim_url:
        with httpx.Client(
            headers={"Authorization": f"Bearer {SIMULATOR_KEY}"}
        ) as client:
            sync_catalog(make_sessions(engine), client, f"{sim_url}/api/v1")
        env = services.env(sim_url, **LANE_ENV)
        with (
            api(env) as (api_url, api_pid),
            worker_node(env, processes=1) as worker_pid,
            _beat(env) as beat_pid,
        ):
            yield Stack(services, api_url, (api_pid, worker_pid, beat_pid), engine)
    engine.dispose()


def _lines(count: int, models: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"line-{n}",
            "body": {
                "model": models[n % len(models)],
                "messages": [
                    {"role": "user", "content": f"Summarise item {n} in a line."}
                ],
                "max_tokens": 64,
            },
        }
        for n in range(count)
    ]


def _wait(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DONE_TIMEOUT_S
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not done within {DONE_TIMEOUT_S} s")
        time.sleep(0.2)


def _run_batch(stack: Stack, lane: str, count: int) -> tuple[Decimal, float]:
    """Run one batch to its end: its ledger cost and the broker's CPU seconds."""
    body = {"requests": _lines(count, COST_MODELS), "lane": lane}
    cpu_before = stack.cpu_s()
    with stack.client() as client:
        answer = client.post("/v1/batches", json=body)
        answer.raise_for_status()
        batch_id = answer.json()["id"]
    _wait(
        lambda: (
            stack.scalar("SELECT status FROM batches WHERE id = :id", id=batch_id)
            in ("completed", "failed", "expired", "cancelled")
        ),
        f"the {lane} batch",
    )
    cpu_s = stack.cpu_s() - cpu_before
    lanes = stack.scalar(
        "SELECT count(DISTINCT a.lane) FROM attempts a JOIN jobs j ON j.id = a.job_id"
        " WHERE j.batch_id = :id AND a.lane <> :lane",
        id=batch_id,
        lane=lane,
    )
    if lanes:
        print(f"note: some lines of the {lane} batch ran on the other lane")
    cost = stack.scalar(
        "SELECT coalesce(sum(a.cost_usd), 0) FROM attempts a JOIN jobs j"
        " ON j.id = a.job_id WHERE j.batch_id = :id",
        id=batch_id,
    )
    return Decimal(cost), cpu_s


def bench_cost(stack: Stack, count: int) -> None:
    discount, cpu_s = _run_batch(stack, "discount", count)
    realtime, _ = _run_batch(stack, "realtime", count)
    print(
        f"cost, {count} lines over {len(COST_MODELS)} models: discount "
        f"{discount:.6f} USD, realtime {realtime:.6f} USD, ratio "
        f"{discount / realtime:.3f} (goal <= 0.55)"
    )
    print(
        f"CPU on the discount lane (API + worker + beat, POST to batch end): "
        f"{cpu_s:.2f} s, {cpu_s / count * 1000:.2f} ms a line"
    )


def bench_submission(stack: Stack, count: int) -> None:
    jsonl = "\n".join(
        json.dumps({**line, "method": "POST", "url": "/v1/chat/completions"})
        for line in _lines(count, SUBMIT_MODELS)
    )
    cpu_before = stack.cpu_s()
    started = time.monotonic()
    with stack.client() as client:
        answer = client.post(
            "/v1/batches?lane=discount",
            content=jsonl.encode(),
            headers={"Content-Type": "application/jsonl"},
        )
        answer.raise_for_status()
        batch_id = answer.json()["id"]
    accepted_s = time.monotonic() - started
    _wait(
        lambda: (
            stack.scalar(
                "SELECT count(*) FROM jobs j JOIN upstream_batches u"
                " ON u.id = j.upstream_batch_id WHERE j.batch_id = :id"
                " AND u.upstream_id IS NOT NULL",
                id=batch_id,
            )
            >= count
        ),
        "the submission",
    )
    elapsed_s = time.monotonic() - started
    cpu_s = stack.cpu_s() - cpu_before
    upstream = stack.scalar(
        "SELECT count(*) FROM upstream_batches WHERE batch_id = :id", id=batch_id
    )
    print(
        f"submission, {count} lines: POST answered in {accepted_s:.1f} s, every line "
        f"in one of {upstream} accepted upstream batches after {elapsed_s:.1f} s "
        f"(goal < 60 s); CPU (API + worker + beat) {cpu_s:.1f} s, "
        f"{cpu_s / count * 1000:.3f} ms a line"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.discount_lane")
    parser.add_argument("--cost-lines", type=int, default=1000)
    parser.add_argument("--submit-lines", type=int, default=50_000)
    options = parser.parse_args()
    with running_stack() as stack:
        bench_cost(stack, options.cost_lines)
        bench_submission(stack, options.submit_lines)


if __name__ == "__main__":
    main()
