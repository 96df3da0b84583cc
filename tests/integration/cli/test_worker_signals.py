"""Ctrl-C in a terminal running a worker node of several processes: each process
gets the terminal's SIGINT, and the node must not add a second one (Celery turns a
second SIGINT into a cold shutdown, which skips handing back the jobs in flight)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# A node of one worker process that records the signals it gets, then exits.
NODE = """
import multiprocessing, signal, sys, time
from workers.entrypoints import _supervise

def worker_process(path):
    def record(signum, _frame):
        with open(path, "a") as signals:
            signals.write(f"{signum}\\n")
    signal.signal(signal.SIGINT, record)
    signal.signal(signal.SIGTERM, record)
    open(path, "a").close()
    time.sleep(1.5)

if __name__ == "__main__":
    node = multiprocessing.get_context("spawn")
    _supervise([node.Process(target=worker_process, args=(sys.argv[1],))])
"""


def test_ctrl_c_reaches_each_worker_process_as_one_sigint(tmp_path: Path) -> None:
    script, received = tmp_path / "node.py", tmp_path / "signals"
    script.write_text(NODE)
    node = subprocess.Popen(
        [sys.executable, str(script), str(received)], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        while not received.exists():
            assert time.monotonic() < deadline, "the worker process did not start"
            time.sleep(0.05)

        os.killpg(node.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        node.wait(timeout=30)
    finally:
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait()

    signals = [int(line) for line in received.read_text().split()]
    assert signals.count(signal.SIGINT) == 1
