"""The one supervisor of child processes: `helixq up`, the end-to-end tests, the
benchmarks and chaos all start, wait for, signal and stop their processes here.

Every child runs in its own process group, so a signal sent to it reaches what it
started (Celery's pool, a worker node's processes), and the terminal's Ctrl-C
reaches only the parent, which then stops its children in reverse start order.
Whoever uses it keeps only what is its own: which processes, which env.
"""

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from helixq.errors import ChildExited, NotReady

LineSink = Callable[[str, str], None]  # (process name, line)
READY_POLL_S = 0.1


@dataclass(frozen=True)
class Child:
    name: str
    process: "subprocess.Popen[bytes]"
    reader: threading.Thread | None  # forwards the output to the sink, if any


class Supervisor:
    """Owns the children; `stop_all` leaves none of them (nor theirs) running.

    A child's output goes to its log file when `start` is given one, else line by
    line to `sink` when there is one, else to this process's own output.
    """

    def __init__(self, sink: LineSink | None = None, *, cwd: Path | None = None):
        self._sink = sink
        self._cwd = cwd
        self._children: dict[str, Child] = {}

    @property
    def names(self) -> list[str]:
        return list(self._children)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        log: Path | None = None,
    ) -> int:
        """Start `argv` as `name` with exactly `env`; its pid. `log` is appended to."""
        if name in self._children:
            raise ValueError(f"{name} is already running")
        if log is not None:
            with log.open("ab") as output:  # the child keeps its own copy
                process = self._popen(argv, env, output)
            reader = None
        elif self._sink is not None:
            process = self._popen(argv, env, subprocess.PIPE)
            assert process.stdout is not None  # stdout=PIPE
            reader = threading.Thread(
                target=_forward, args=(name, process.stdout, self._sink), daemon=True
            )
            reader.start()
        else:
            process = self._popen(argv, env, None)
            reader = None
        self._children[name] = Child(name, process, reader)
        return process.pid

    def _popen(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        output: IO[bytes] | int | None,
    ) -> "subprocess.Popen[bytes]":
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=self._cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            process_group=0,
        )

    def pid(self, name: str) -> int:
        return self._children[name].process.pid

    def first_exited(self) -> tuple[str, int] | None:
        """The name and exit code of a child that has ended, if any."""
        for child in self._children.values():
            code = child.process.poll()
            if code is not None:
                return child.name, code
        return None

    def raise_if_one_exited(self) -> None:
        """ChildExited when a child has ended (each was meant to keep running)."""
        exited = self.first_exited()
        if exited is not None:
            name, code = exited
            raise ChildExited(
                f"{name} exited unexpectedly ({describe_exit(code)})",
                details={"process": name, "exit_code": code},
            )

    def wait_until_ready(
        self, check: Callable[[], bool], *, timeout_s: float, what: str
    ) -> None:
        """Poll `check` until it holds. ChildExited at once if a child ends
        meanwhile; NotReady, naming `what`, after `timeout_s` seconds."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.raise_if_one_exited()
            if check():
                return
            time.sleep(READY_POLL_S)
        raise NotReady(
            f"{what} did not answer within {timeout_s:g} s",
            details={"what": what, "timeout_s": timeout_s},
        )

    def kill(
        self, name: str, signum: signal.Signals = signal.SIGKILL, *, grace_s: float = 15
    ) -> None:
        """Send `signum` to the child's group, as a crash or an operator would;
        SIGKILL what is left after `grace_s` seconds. The name is free again."""
        child = self._children[name]
        _signal_group(child.process, signum)
        with suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=grace_s)
        self._forget(child)

    def wait_for_exit(self, name: str, timeout_s: float) -> int:
        """The exit code of a child that ends on its own within `timeout_s` (else
        subprocess.TimeoutExpired, and it stays supervised)."""
        child = self._children[name]
        code = child.process.wait(timeout=timeout_s)
        self._forget(child)
        return code

    def stop_all(self, grace_s: float) -> None:
        """Stop the children in reverse start order, one group after the other:
        SIGTERM, then SIGKILL if it is still there after `grace_s` seconds.

        A child serves those started after it (the simulator stands in for
        OpenRouter): it stays up until they have stopped, so that a worker
        finishing its calls in flight still gets their answers."""
        for child in reversed(list(self._children.values())):
            _signal_group(child.process, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=grace_s)
            self._forget(child)

    def _forget(self, child: Child) -> None:
        # Also reaps grandchildren (Celery's pool) whose leader already left.
        _signal_group(child.process, signal.SIGKILL)
        child.process.wait()
        if child.reader is not None:
            child.reader.join(timeout=2.0)
        del self._children[child.name]


def _signal_group(process: "subprocess.Popen[bytes]", signum: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _forward(name: str, stream: IO[bytes], sink: LineSink) -> None:
    with stream:
        for raw in iter(stream.readline, b""):
            sink(name, raw.decode("utf-8", errors="replace").rstrip())


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(url: str, *, timeout_s: float = 2.0) -> bool:
    """Whether GET `url` answers with a 2xx status now."""
    try:
        # trust_env=False: a proxy from the environment must not see loopback calls.
        return httpx.get(url, timeout=timeout_s, trust_env=False).is_success
    except httpx.HTTPError:
        return False  # not listening yet, or too slow to count as up


def describe_exit(code: int) -> str:
    """`code 3`, or `signal SIGKILL` for a process a signal ended (Popen gives -9)."""
    if code >= 0:
        return f"code {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"
