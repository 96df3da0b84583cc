"""The subprocesses benchmarks start, on loopback: the simulator and a worker node,
each run by helixq.processes.Supervisor and stopped when its block ends."""

import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from helixq.processes import Supervisor, answers, free_port

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 20
STOP_GRACE_S = 10


@contextmanager
def simulator(**settings: str) -> Iterator[str]:
    """`python -m simulator` on a free port with `settings` (HELIXQ_SIM_* variables)
    over the environment; yields its base URL (`http://127.0.0.1:<port>`)."""
    port = free_port()
    command = [sys.executable, "-m", "simulator", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "WARNING"]
    base_url = f"http://127.0.0.1:{port}"
    supervisor = Supervisor(cwd=ROOT)
    try:
        supervisor.start("simulator", command, {**os.environ, **settings})
        supervisor.wait_until_ready(
            lambda: answers(f"{base_url}/_sim/health"),
            timeout_s=READY_TIMEOUT_S,
            what="the simulator",
        )
        yield base_url
    finally:
        supervisor.stop_all(STOP_GRACE_S)


@contextmanager
def worker_node(env: Mapping[str, str], *, processes: int) -> Iterator[int]:
    """`run_worker(processes=...)` in a subprocess, with `env` over the environment;
    yields its pid, stopped at the end. Its output (Celery's banner and warnings)
    goes to a log file, kept and named on stderr when the benchmark fails while the
    node runs."""
    code = (
        "from workers.entrypoints import run_worker; "
        f"run_worker(processes={processes}, loglevel='WARNING')"
    )
    with tempfile.NamedTemporaryFile(
        prefix="helixq-bench-worker-", suffix=".log", delete=False
    ) as log:
        log_path = Path(log.name)
    supervisor = Supervisor(cwd=ROOT)
    try:
        yield supervisor.start(
            "worker",
            [sys.executable, "-c", code],
            {**os.environ, "PYTHONUNBUFFERED": "1", **env},
            log=log_path,
        )
    except BaseException:
        print(f"the worker node's output: {log_path}", file=sys.stderr)
        raise
    else:
        log_path.unlink()
    finally:
        supervisor.stop_all(STOP_GRACE_S)
