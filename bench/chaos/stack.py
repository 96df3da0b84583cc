"""The processes a chaos run owns, all on loopback: an embedded PostgreSQL, a
redis-server, the simulator, a worker node and beat. Owning them is what lets a
scenario flush, stop and kill them without touching anyone else's servers."""

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench.processes import ROOT
from helixq.embedded import start_postgres
from helixq.processes import Supervisor, answers, free_port
from shared.db.migrate import upgrade_to_head

API_KEY = "sk-or-v1-chaos"
ADMIN_TOKEN = "chaos-admin-token"
SIM_LATENCY_MS = 200
WORKER_PROCESSES = 2
STOP_GRACE_S = 15
# Short enough that recovery shows within a scenario, long enough to be realistic.
WORKER_ENV = {
    "OPENROUTER_API_KEY": API_KEY,
    "OPENROUTER_TIMEOUT": "5s",
    "HELIXQ_JOB_LEASE_S": "10s",
    "HELIXQ_QUEUED_STALE_S": "5s",
    "HELIXQ_SWEEP_INTERVAL_S": "2s",
    "HELIXQ_RETRY_MAX_DELAY_S": "5s",
    "HELIXQ_WORKER_INFLIGHT": "100",
    "DATABASE_POOL_SIZE": "4",
    "DATABASE_MAX_OVERFLOW": "4",
    # OpenRouter's /generation answers 404 for about a second after a call.
    "HELIXQ_SIM_GENERATION_DELAY_MS": "1000",
}

# The discount lane's and the simulator's Batch API pace (bench.chaos.discount).
DISCOUNT_ENV = {
    "HELIXQ_DISCOUNT_INTERVAL_S": "1s",
    "HELIXQ_DISCOUNT_POLL_FIRST_S": "1s",
    "HELIXQ_DISCOUNT_POLL_MAX_S": "2s",
    "HELIXQ_DISCOUNT_RECONCILE_AFTER_S": "3s",
    # Many upstream batches per helixq batch, so the faults land mid-way.
    "HELIXQ_DISCOUNT_MAX_REQUESTS": "100",
    "HELIXQ_SIM_BATCH_VALIDATING_S": "1",
    "HELIXQ_SIM_BATCH_IN_PROGRESS_S": "3",
    # An upstream batch scripted to expire does so this long after its creation.
    "HELIXQ_SIM_BATCH_WINDOW_S": "10",
}


def wait_until(check: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not happen within {timeout_s:g}s")


@dataclass
class Stack:
    work_dir: Path
    postgres: Any = None
    database_url: str = ""
    redis_port: int = field(default_factory=free_port)
    sim_url: str = ""
    api_url: str = ""
    processes: Supervisor = field(default_factory=lambda: Supervisor(cwd=ROOT))

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **WORKER_ENV,
            **DISCOUNT_ENV,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "OPENROUTER_BASE_URL": f"{self.sim_url}/api/v1",
            "HELIXQ_SIM_LATENCY_MS": str(SIM_LATENCY_MS),
            "HELIXQ_ADMIN_TOKEN": ADMIN_TOKEN,
        }

    def start_process(self, name: str, argv: list[str], **env: str) -> int:
        """Start `argv` as `name` with `env` over the stack's; its pid."""
        log = self.work_dir / f"{name}.log"
        return self.processes.start(name, argv, {**self.env(), **env}, log=log)

    def kill(self, name: str, signum: signal.Signals = signal.SIGKILL) -> None:
        """Signal a process and everything it started (its process group)."""
        self.processes.kill(name, signum, grace_s=STOP_GRACE_S)

    # --- Redis -----------------------------------------------------------------
    def start_redis(self) -> None:
        binary = shutil.which("redis-server") or shutil.which("valkey-server")
        if binary is None:
            raise SystemExit("chaos needs redis-server (or valkey-server) on PATH")
        argv = [
            binary,
            "--port",
            str(self.redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.start_process("redis", argv)
        self.processes.wait_until_ready(self._redis_answers, timeout_s=10, what="redis")

    def _redis_answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.redis_url).ping())
        except redis.ConnectionError:
            return False

    def restart_redis_empty(self) -> None:
        """FLUSHALL, then a restart without persistence: every message is gone."""
        redis.Redis.from_url(self.redis_url).flushall()
        self.kill("redis")
        self.start_redis()

    # --- Postgres --------------------------------------------------------------
    def start_postgres(self) -> None:
        self.postgres = start_postgres(self.work_dir / "pg", database="helixq_chaos")
        self.database_url = self.postgres.get_uri(database="helixq_chaos")
        upgrade_to_head(self.database_url)

    def bounce_postgres(self, down_s: float) -> None:
        """Stop Postgres, keep it down for `down_s`, start it again."""
        self.postgres.stop()
        time.sleep(down_s)
        self.postgres.start()

    # --- simulator, worker, beat -------------------------------------------------
    def start_simulator(self) -> None:
        port = free_port()
        self.sim_url = f"http://127.0.0.1:{port}"
        self.start_process(
            "simulator",
            [
                sys.executable,
                "-m",
                "simulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
        )
        self.processes.wait_until_ready(
            lambda: answers(f"{self.sim_url}/_sim/health"),
            timeout_s=20,
            what="the simulator",
        )

    def start_api(self) -> None:
        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "helixq", "api", "--port", str(port)]
        self.start_process("api", argv)
        self.processes.wait_until_ready(
            lambda: answers(f"{self.api_url}/healthz"), timeout_s=30, what="the API"
        )

    def start_worker(self) -> None:
        code = (
            "from workers.entrypoints import run_worker; "
            f"run_worker(processes={WORKER_PROCESSES}, loglevel='WARNING')"
        )
        self.start_process("worker", [sys.executable, "-c", code])

    def start_beat(self) -> None:
        code = "from workers.entrypoints import run_beat; run_beat(loglevel='WARNING')"
        self.start_process("beat", [sys.executable, "-c", code])

    def worker_processes(self) -> list[int]:
        """The worker node's Celery worker processes (its children but the
        resource tracker multiprocessing starts beside them)."""
        pid = self.processes.pid("worker")
        children = [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
        return [
            child
            for child in children
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
        ]

    def stop_all(self) -> None:
        self.processes.stop_all(STOP_GRACE_S)
        # The embedded Postgres stops itself at exit (cleanup_mode="stop").


@contextmanager
def running_stack(work_dir: Path) -> Iterator[Stack]:
    work_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(work_dir)
    try:
        stack.start_postgres()
        stack.start_redis()
        stack.start_simulator()
        stack.start_api()
        stack.start_worker()
        stack.start_beat()
        yield stack
    finally:
        stack.stop_all()
