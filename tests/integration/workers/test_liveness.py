"""`helixq-alive worker` on a real worker node: alive while it consumes, stuck once
its processes stop making progress, alive again when they resume."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helixq.processes import Supervisor
from tests.polling import wait_until
from tests.services import Services
from workers.runtime.heartbeat import BEAT_INTERVAL_S

pytestmark = pytest.mark.timeout(120)

BIN = Path(sys.executable).parent
# Just over one beat: a mark this old means a beat was missed.
MAX_AGE_S = BEAT_INTERVAL_S + 2


@pytest.fixture
def node(services: Services, tmp_path: Path) -> Iterator[Supervisor]:
    supervisor = Supervisor(cwd=tmp_path)
    yield supervisor
    supervisor.stop_all(grace_s=10)


def _probe(alive_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "helixq-alive"), "worker", "--max-age", str(MAX_AGE_S)],
        env={**os.environ, "HELIXQ_ALIVE_DIR": str(alive_dir)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_probe_follows_a_worker_that_stops_and_resumes(
    node: Supervisor, services: Services, tmp_path: Path
) -> None:
    alive_dir = tmp_path / "alive"
    env = {
        **os.environ,
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "OPENROUTER_API_KEY": "sk-or-v1-liveness",
        "OPENROUTER_BASE_URL": "http://127.0.0.1:9/api/v1",  # never called
        "HELIXQ_ALIVE_DIR": str(alive_dir),
    }
    assert _probe(alive_dir).returncode == 1  # nothing runs yet
    node.start("worker", [str(BIN / "helixq"), "worker", "-c", "2"], env)
    wait_until(
        lambda: _probe(alive_dir).returncode == 0,
        timeout_s=60,
        what="the worker's first liveness mark",
    )

    os.killpg(node.pid("worker"), signal.SIGSTOP)  # a process that makes no progress
    try:
        wait_until(
            lambda: _probe(alive_dir).returncode == 1,
            timeout_s=MAX_AGE_S + BEAT_INTERVAL_S + 5,
            what="the probe to call the stopped worker stuck",
        )
        assert "no progress" in _probe(alive_dir).stderr
    finally:
        os.killpg(node.pid("worker"), signal.SIGCONT)
    wait_until(
        lambda: _probe(alive_dir).returncode == 0,
        timeout_s=BEAT_INTERVAL_S + 10,
        what="the resumed worker's next mark",
    )
