"""The subprocesses benchmarks start, on loopback: the simulator, a worker node,
and the helpers to find a port, wait for a server and stop a process."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, timeout_s: float = 20.0) -> None:
    """Until `url` answers 200, or SystemExit after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def simulator(**settings: str) -> Iterator[str]:
    """`python -m simulator` on a free port with `settings` (HELIXQ_SIM_* variables)
    over the environment; yields its base URL (`http://127.0.0.1:<port>`)."""
    port = free_port()
    command = [sys.executable, "-m", "simulator", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "WARNING"]
    process = subprocess.Popen(command, env={**os.environ, **settings}, cwd=ROOT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base_url}/_sim/health")
        yield base_url
    finally:
        stop(process)


@contextmanager
def worker_node(
    env: Mapping[str, str], *, processes: int
) -> Iterator[subprocess.Popen[bytes]]:
    """`run_worker(processes=...)` in a subprocess, with `env` over the environment;
    stopped at the end. Its output (Celery's banner and warnings) goes to a log file,
    kept and named on stderr when the benchmark fails while the node runs."""
    code = (
        "from workers.entrypoints import run_worker; "
        f"run_worker(processes={processes}, loglevel='WARNING')"
    )
    with tempfile.NamedTemporaryFile(
        prefix="helixq-bench-worker-", suffix=".log", delete=False
    ) as log:
        node = subprocess.Popen(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield node
        except BaseException:
            print(f"the worker node's output: {log.name}", file=sys.stderr)
            raise
        else:
            os.unlink(log.name)
        finally:
            stop(node)
