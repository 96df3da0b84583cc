"""The subprocesses benchmarks start, on loopback: the simulator, and the helpers
to find a port, wait for a server and stop a process."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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
