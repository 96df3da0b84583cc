import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helixq.errors import ChildExited, NotReady
from helixq.processes import Supervisor, describe_exit
from helixq.settings import inherited_environment

ENV = inherited_environment({})

# A child that ignores SIGTERM, as a stuck process would.
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"  # noqa: E501


class Lines:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, name: str, line: str) -> None:
        self.seen.append((name, line))


def _python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def _wait_for(condition: object, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_output_is_forwarded_line_by_line_with_the_name() -> None:
    lines = Lines()
    supervisor = Supervisor(lines)
    supervisor.start("echo", _python("print('one'); print('two')"), ENV)
    _wait_for(lambda: supervisor.first_exited() is not None)
    supervisor.stop_all(grace_s=1)
    assert lines.seen == [("echo", "one"), ("echo", "two")]


def test_first_exited_names_the_dead_child_and_its_code() -> None:
    supervisor = Supervisor(Lines())
    supervisor.start("sleeper", _python("import time; time.sleep(60)"), ENV)
    supervisor.start("crasher", _python("raise SystemExit(3)"), ENV)
    _wait_for(lambda: supervisor.first_exited() is not None)
    assert supervisor.first_exited() == ("crasher", 3)
    supervisor.stop_all(grace_s=1)


def test_children_get_the_given_environment() -> None:
    lines = Lines()
    supervisor = Supervisor(lines)
    env = inherited_environment({"HELIXQ_PROBE": "yes"})
    code = "import os; print(os.environ['HELIXQ_PROBE'])"
    supervisor.start("probe", _python(code), env)
    _wait_for(lambda: supervisor.first_exited() is not None)
    supervisor.stop_all(grace_s=1)
    assert lines.seen == [("probe", "yes")]


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period() -> None:
    lines = Lines()
    supervisor = Supervisor(lines)
    supervisor.start("stubborn", _python(STUBBORN), ENV)
    _wait_for(lambda: ("stubborn", "up") in lines.seen)
    started = time.monotonic()
    supervisor.stop_all(grace_s=0.5)
    assert 0.4 < time.monotonic() - started < 5
    assert supervisor.names == []


def test_children_stop_in_reverse_start_order_each_after_the_next(
    tmp_path: Path,
) -> None:
    # The stack starts the simulator before the worker: the worker's calls in
    # flight must still reach it while the worker stops.
    stopped = tmp_path / "user-stopped"
    server = (
        "import pathlib, signal, sys, time\n"
        "def stop(*_):\n"
        f"    print(pathlib.Path({str(stopped)!r}).exists(), flush=True)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    user = (
        "import pathlib, signal, sys, time\n"
        "def stop(*_):\n"
        "    time.sleep(0.5)\n"  # finishing its calls
        f"    pathlib.Path({str(stopped)!r}).touch()\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    lines = Lines()
    supervisor = Supervisor(lines)
    supervisor.start("server", _python(server), ENV)
    supervisor.start("user", _python(user), ENV)
    _wait_for(lambda: {("server", "up"), ("user", "up")} <= set(lines.seen))

    supervisor.stop_all(grace_s=5)

    assert ("server", "True") in lines.seen


def test_stop_all_also_ends_grandchildren(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    supervisor = Supervisor(Lines())
    supervisor.start("parent", _python(code), ENV)
    _wait_for(lambda: pid_file.exists() and pid_file.read_text() != "")
    grandchild = int(pid_file.read_text())
    supervisor.stop_all(grace_s=1)
    # The grandchild is reparented to init, which reaps it shortly after.
    _wait_for(lambda: not _is_alive(grandchild) or _is_zombie(grandchild))


def _is_zombie(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rsplit(")", 1)[1].split()[0] == "Z"


def test_children_do_not_share_our_process_group() -> None:
    lines = Lines()
    supervisor = Supervisor(lines)
    supervisor.start("group", _python("import os; print(os.getpgid(0))"), ENV)
    _wait_for(lambda: supervisor.first_exited() is not None)
    supervisor.stop_all(grace_s=1)
    assert int(lines.seen[0][1]) != os.getpgid(0)


def test_exit_descriptions_name_the_signal() -> None:
    assert describe_exit(3) == "code 3"
    assert describe_exit(-9) == "signal SIGKILL"
    assert describe_exit(-200) == "signal 200"


def _parent_of_a_sleeper(pid_file: Path) -> tuple[str, ...]:
    """A child that starts a grandchild, writes its pid to `pid_file`, and sleeps."""
    return _python(
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )


def _grandchild_pid(pid_file: Path) -> int:
    _wait_for(lambda: pid_file.exists() and pid_file.read_text() != "")
    return int(pid_file.read_text())


def test_output_goes_to_the_log_file_when_one_is_given(tmp_path: Path) -> None:
    lines = Lines()
    supervisor = Supervisor(lines)
    log = tmp_path / "echo.log"
    log.write_text("earlier run\n")
    supervisor.start("echo", _python("print('one')"), ENV, log=log)
    _wait_for(lambda: supervisor.first_exited() is not None)
    supervisor.stop_all(grace_s=1)
    assert log.read_text() == "earlier run\none\n"
    assert lines.seen == []


def test_without_a_sink_or_a_log_children_write_to_our_output(
    capfd: pytest.CaptureFixture[str],
) -> None:
    supervisor = Supervisor()
    supervisor.start("echo", _python("print('to the terminal')"), ENV)
    _wait_for(lambda: supervisor.first_exited() is not None)
    supervisor.stop_all(grace_s=1)
    assert "to the terminal" in capfd.readouterr().out


def test_children_start_in_the_given_folder(tmp_path: Path) -> None:
    lines = Lines()
    supervisor = Supervisor(lines, cwd=tmp_path)
    supervisor.start("where", _python("import os; print(os.getcwd())"), ENV)
    _wait_for(lambda: supervisor.first_exited() is not None)
    supervisor.stop_all(grace_s=1)
    assert lines.seen == [("where", str(tmp_path))]


def test_a_name_in_use_cannot_start_a_second_child() -> None:
    supervisor = Supervisor(Lines())
    supervisor.start("sleeper", _python("import time; time.sleep(60)"), ENV)
    try:
        with pytest.raises(ValueError, match="sleeper is already running"):
            supervisor.start("sleeper", _python("pass"), ENV)
    finally:
        supervisor.stop_all(grace_s=1)


def test_kill_ends_the_child_and_what_it_started(tmp_path: Path) -> None:
    supervisor = Supervisor(Lines())
    supervisor.start("parent", _parent_of_a_sleeper(tmp_path / "pid"), ENV)
    parent = supervisor.pid("parent")
    grandchild = _grandchild_pid(tmp_path / "pid")
    supervisor.kill("parent")
    assert supervisor.names == []
    assert not _is_alive(parent)
    _wait_for(lambda: not _is_alive(grandchild) or _is_zombie(grandchild))


def test_kill_sends_the_given_signal_and_a_name_can_start_again() -> None:
    lines = Lines()
    supervisor = Supervisor(lines)
    code = (
        "import signal, sys, time; "
        "signal.signal(signal.SIGTERM, lambda *_: (print('term', flush=True), "
        "sys.exit(0))); print('up', flush=True); time.sleep(60)"
    )
    supervisor.start("polite", _python(code), ENV)
    _wait_for(lambda: ("polite", "up") in lines.seen)
    supervisor.kill("polite", signal.SIGTERM, grace_s=5)
    assert ("polite", "term") in lines.seen
    supervisor.start("polite", _python("print('again')"), ENV)
    _wait_for(lambda: ("polite", "again") in lines.seen)
    supervisor.stop_all(grace_s=1)


def test_kill_falls_back_to_sigkill_after_the_grace_period() -> None:
    lines = Lines()
    supervisor = Supervisor(lines)
    supervisor.start("stubborn", _python(STUBBORN), ENV)
    _wait_for(lambda: ("stubborn", "up") in lines.seen)
    started = time.monotonic()
    supervisor.kill("stubborn", signal.SIGTERM, grace_s=0.5)
    assert 0.4 < time.monotonic() - started < 5
    assert supervisor.names == []


def test_wait_for_exit_gives_the_code_and_forgets_the_child() -> None:
    supervisor = Supervisor(Lines())
    supervisor.start("sleeper", _python("import time; time.sleep(60)"), ENV)
    with pytest.raises(subprocess.TimeoutExpired):
        supervisor.wait_for_exit("sleeper", timeout_s=0.2)
    assert supervisor.names == ["sleeper"]
    os.kill(supervisor.pid("sleeper"), signal.SIGTERM)
    assert supervisor.wait_for_exit("sleeper", timeout_s=5) == -signal.SIGTERM
    assert supervisor.names == []


def test_wait_for_exit_ends_what_the_child_left_behind(tmp_path: Path) -> None:
    supervisor = Supervisor(Lines())
    supervisor.start("parent", _parent_of_a_sleeper(tmp_path / "pid"), ENV)
    grandchild = _grandchild_pid(tmp_path / "pid")
    os.kill(supervisor.pid("parent"), signal.SIGKILL)
    supervisor.wait_for_exit("parent", timeout_s=5)
    _wait_for(lambda: not _is_alive(grandchild) or _is_zombie(grandchild))


def test_wait_until_ready_returns_once_the_check_passes(tmp_path: Path) -> None:
    flag = tmp_path / "ready"
    supervisor = Supervisor(Lines())
    code = f"import time; time.sleep(0.3); open({str(flag)!r}, 'w'); time.sleep(60)"
    supervisor.start("slow", _python(code), ENV)
    try:
        supervisor.wait_until_ready(flag.exists, timeout_s=10, what="the flag")
    finally:
        supervisor.stop_all(grace_s=1)


def test_wait_until_ready_fails_at_once_when_a_child_exits() -> None:
    supervisor = Supervisor(Lines())
    supervisor.start("crasher", _python("raise SystemExit(3)"), ENV)
    started = time.monotonic()
    with pytest.raises(ChildExited, match=r"crasher exited unexpectedly \(code 3\)"):
        supervisor.wait_until_ready(lambda: False, timeout_s=30, what="the API")
    assert time.monotonic() - started < 5
    supervisor.stop_all(grace_s=1)


def test_wait_until_ready_names_what_was_not_ready_in_time() -> None:
    supervisor = Supervisor(Lines())
    supervisor.start("sleeper", _python("import time; time.sleep(60)"), ENV)
    try:
        with pytest.raises(NotReady, match=r"the API did not answer within 0.3 s"):
            supervisor.wait_until_ready(lambda: False, timeout_s=0.3, what="the API")
    finally:
        supervisor.stop_all(grace_s=1)
