"""Start the broker's processes for end-to-end tests and stop every one of them."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
LOG_DIR = Path("tests/artifacts/e2e-logs")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ProcessGroup:
    """Children in their own process groups, so a kill reaches their children too."""

    env: dict[str, str]
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen[bytes]:
        """Start `argv` as `name`, with `env` over the group's environment."""
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        with (LOG_DIR / f"{name}.log").open("ab") as log:  # the child keeps a copy
            child = subprocess.Popen(
                argv,
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.children[name] = child
        return child

    def kill(self, name: str) -> None:
        """SIGKILL a process and its children, as a crash would."""
        child = self.children.pop(name)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=10)

    def stop(self, name: str, signum: int, *, timeout_s: float) -> float:
        """Send `signum` to a process group, as an operator or a terminal's Ctrl-C
        would, and wait for it to exit; how long it took. Raises AssertionError
        (after a SIGKILL) when it outlives `timeout_s`."""
        child = self.children.pop(name)
        started = time.monotonic()
        _signal_group(child, signum)
        try:
            child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.wait(timeout=10)
            raise AssertionError(
                f"{name} still running {timeout_s}s after signal"
            ) from None
        return time.monotonic() - started

    def stop_all(self) -> None:
        for child in self.children.values():
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.wait(timeout=5)
        self.children.clear()


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signum)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
