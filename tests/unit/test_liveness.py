"""Liveness marks and `helixq-alive`: alive while every running process of a role
renewed its mark lately; a stuck loop stops renewing it."""

import json
import os
import threading
import time
from pathlib import Path

import pytest

from helixq.alive import ALIVE, STUCK, USAGE, main
from shared.liveness import check_marks, mark_path, write_mark
from workers.runtime.event_loop import EventLoopThread
from workers.runtime.heartbeat import LivenessMark

NOW = 1_000_000.0


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_a_fresh_mark_of_a_running_process_is_alive(tmp_path: Path) -> None:
    write_mark(tmp_path, "worker", "worker1@host", now_s=NOW - 5)
    verdict = check_marks(tmp_path, "worker", max_age_s=60, now_s=NOW)
    assert verdict.alive, verdict.reason


def test_a_mark_older_than_the_max_age_is_stuck(tmp_path: Path) -> None:
    write_mark(tmp_path, "worker", "worker1@host", now_s=NOW - 61)
    verdict = check_marks(tmp_path, "worker", max_age_s=60, now_s=NOW)
    assert not verdict.alive
    assert "worker1@host" in verdict.reason
    assert "61 s" in verdict.reason


def test_no_mark_at_all_is_not_alive(tmp_path: Path) -> None:
    write_mark(tmp_path, "beat", "123", now_s=NOW)  # another role's
    verdict = check_marks(tmp_path / "none", "worker", max_age_s=60, now_s=NOW)
    assert not verdict.alive
    assert not check_marks(tmp_path, "worker", max_age_s=60, now_s=NOW).alive


def test_marks_of_ended_processes_are_ignored(tmp_path: Path) -> None:
    old = mark_path(tmp_path, "worker", "gone@host")
    old.write_text(json.dumps({"name": "gone@host", "pid": _dead_pid(), "at": 1.0}))
    write_mark(tmp_path, "worker", "worker1@host", now_s=NOW)
    assert check_marks(tmp_path, "worker", max_age_s=60, now_s=NOW).alive


def test_one_stuck_process_among_several_is_stuck(tmp_path: Path) -> None:
    write_mark(tmp_path, "worker", "worker1@host", now_s=NOW)
    write_mark(tmp_path, "worker", "worker2@host", now_s=NOW - 100)
    verdict = check_marks(tmp_path, "worker", max_age_s=60, now_s=NOW)
    assert not verdict.alive
    assert "worker2@host" in verdict.reason


def test_the_mark_is_renewed_only_while_the_event_loop_answers(
    tmp_path: Path,
) -> None:
    loop = EventLoopThread()
    mark = LivenessMark(tmp_path, "worker1@host", loop)
    path = mark_path(tmp_path, "worker", "worker1@host")
    try:
        mark.renew()
        first = json.loads(path.read_text())["at"]
        time.sleep(0.05)  # the loop runs the probe
        mark.renew()
        second = json.loads(path.read_text())["at"]
        assert second > first

        release = threading.Event()

        async def stuck() -> None:
            release.wait(5)  # blocks the loop's thread, as a stray blocking call

        loop.submit(stuck())
        time.sleep(0.05)  # the last probe has run, and the loop is now blocked
        mark.renew()  # writes (the last probe ran), posts one the loop cannot run
        stuck_at = json.loads(path.read_text())["at"]
        time.sleep(0.05)
        mark.renew()
        mark.renew()
        assert json.loads(path.read_text())["at"] == stuck_at
        release.set()
        time.sleep(0.05)
        mark.renew()
        assert json.loads(path.read_text())["at"] > stuck_at
        time.sleep(0.05)  # the last probe runs before the loop stops
    finally:
        loop.stop()


def test_the_probe_exits_0_alive_1_stuck_2_on_bad_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("HELIXQ_ALIVE_DIR", str(tmp_path / "alive"))
    assert main(["worker"]) == STUCK
    assert "no running worker process" in capsys.readouterr().err

    write_mark(tmp_path / "alive", "worker", "worker1@host")
    assert main(["worker"]) == ALIVE
    write_mark(tmp_path / "alive", "worker", "worker1@host", now_s=time.time() - 20)
    assert main(["worker", "--max-age", "10"]) == STUCK
    assert main(["worker"]) == ALIVE  # within the default 60 s

    monkeypatch.setenv("HELIXQ_ALIVE_MAX_AGE_S", "soon")
    assert main(["worker"]) == USAGE
    assert "HELIXQ_ALIVE_MAX_AGE_S" in capsys.readouterr().err
