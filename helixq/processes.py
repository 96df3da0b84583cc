"""Child processes of the local stack: started in their own process groups, their
output forwarded line by line, stopped in reverse start order with SIGTERM then
SIGKILL."""

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import IO

LineSink = Callable[[str, str], None]  # (process name, line)


@dataclass(frozen=True)
class Child:
    name: str
    process: "subprocess.Popen[bytes]"
    reader: threading.Thread


class Supervisor:
    """Owns the children; `stop_all` leaves none of them (nor theirs) running."""

    def __init__(self, sink: LineSink) -> None:
        self._sink = sink
        self._children: list[Child] = []

    @property
    def names(self) -> list[str]:
        return [child.name for child in self._children]

    def start(self, name: str, argv: tuple[str, ...], env: Mapping[str, str]) -> None:
        # Own process group: the terminal's Ctrl-C reaches only `helixq up`, which
        # then stops the children in order instead of all at once.
        process = subprocess.Popen(
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        assert process.stdout is not None  # stdout=PIPE
        reader = threading.Thread(
            target=_forward, args=(name, process.stdout, self._sink), daemon=True
        )
        reader.start()
        self._children.append(Child(name, process, reader))

    def first_exited(self) -> tuple[str, int] | None:
        """The name and exit code of a child that has ended, if any."""
        for child in self._children:
            code = child.process.poll()
            if code is not None:
                return child.name, code
        return None

    def stop_all(self, grace_s: float) -> None:
        """Stop the children in reverse start order, one group after the other:
        SIGTERM, then SIGKILL if it is still there after `grace_s` seconds.

        A child serves those started after it (the simulator stands in for
        OpenRouter): it stays up until they have stopped, so that a worker
        finishing its calls in flight still gets their answers."""
        for child in reversed(self._children):
            _signal_group(child.process, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=grace_s)
            # Also reaps grandchildren (Celery's pool) whose leader already left.
            _signal_group(child.process, signal.SIGKILL)
            child.process.wait()
        for child in self._children:
            child.reader.join(timeout=2.0)
        self._children.clear()


def _signal_group(process: "subprocess.Popen[bytes]", signum: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _forward(name: str, stream: IO[bytes], sink: LineSink) -> None:
    with stream:
        for raw in iter(stream.readline, b""):
            sink(name, raw.decode("utf-8", errors="replace").rstrip())


def describe_exit(code: int) -> str:
    """`code 3`, or `signal SIGKILL` for a process a signal ended (Popen gives -9)."""
    if code >= 0:
        return f"code {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"
