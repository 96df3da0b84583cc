"""Liveness marks: a small file a worker or beat process rewrites while its own
loops make progress, and the check an orchestrator's probe runs on them
(`helixq-alive worker|beat`).

A local file, not Redis: a probe that read Redis would fail, and restart every
worker at once, whenever Redis is away, which a restart cannot mend. A mark names
the process that wrote it; marks of processes that have ended are ignored, so a
folder shared by several processes, or left over from an earlier run, still
reads true.
"""

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

ROLES = ("worker", "beat")
# How often a process rewrites its mark.
MARK_INTERVAL_S = 10.0


@dataclass(frozen=True)
class Verdict:
    """Whether every live process of a role has made progress lately, and why not."""

    alive: bool
    reason: str


def mark_path(directory: Path, role: str, name: str) -> Path:
    """The mark of process `name` (a Celery hostname, a pid) of `role`."""
    return directory / f"{role}-{re.sub(r'[^A-Za-z0-9@._-]', '_', name)}.json"


def write_mark(
    directory: Path, role: str, name: str, *, now_s: float | None = None
) -> None:
    """Say that this process made progress now; atomic, so a probe never reads
    half a mark."""
    directory.mkdir(parents=True, exist_ok=True)
    path = mark_path(directory, role, name)
    at_s = time.time() if now_s is None else now_s
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps({"name": name, "pid": os.getpid(), "at": at_s}))
    os.replace(partial, path)


def check_marks(
    directory: Path, role: str, *, max_age_s: float, now_s: float | None = None
) -> Verdict:
    """Alive when at least one running process of `role` left a mark in
    `directory` and none of them left it longer than `max_age_s` ago."""
    now = time.time() if now_s is None else now_s
    marks = [mark for mark in _read_marks(directory, role) if _is_running(mark[1])]
    if not marks:
        return Verdict(
            False, f"no running {role} process has left a mark in {directory}"
        )
    stuck = [(name, now - at) for name, _pid, at in marks if now - at > max_age_s]
    if stuck:
        name, age_s = max(stuck, key=lambda found: found[1])
        return Verdict(
            False,
            f"{role} {name} has made no progress for {age_s:.0f} s "
            f"(more than {max_age_s:g} s): its loop is stuck",
        )
    return Verdict(True, f"{len(marks)} {role} process(es) made progress lately")


def _read_marks(directory: Path, role: str) -> list[tuple[str, int, float]]:
    marks = []
    for path in directory.glob(f"{role}-*.json"):
        try:
            mark = json.loads(path.read_text())
            marks.append((str(mark["name"]), int(mark["pid"]), float(mark["at"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # removed meanwhile, or not ours
    return marks


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    return True
