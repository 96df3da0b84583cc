import os
import sys
import time
from pathlib import Path

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
