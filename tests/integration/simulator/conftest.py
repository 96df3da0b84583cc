"""Simulator tests that need real sockets: a simulator process on a loopback TCP
port configured from its environment, and async tests on a fresh loop each."""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helixq.processes import Supervisor, answers, free_port
from tests.unit.simulator.conftest import pytest_pyfunc_call, settings
from tests.webhook_receiver import receiver

__all__ = ["pytest_pyfunc_call", "receiver", "settings"]

ROOT = Path(__file__).resolve().parents[3]
LATENCY_MS = 300
TOKEN_INTERVAL_MS = 40
PROCESSING_INTERVAL_MS = 60
COMPLETION_TOKENS = 12


@pytest.fixture(scope="module")
def simulator_url() -> Iterator[str]:
    """`python -m simulator` with paced tokens; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "HELIXQ_SIM_LATENCY_MS": str(LATENCY_MS),
        "HELIXQ_SIM_TOKEN_INTERVAL_MS": str(TOKEN_INTERVAL_MS),
        "HELIXQ_SIM_PROCESSING_INTERVAL_MS": str(PROCESSING_INTERVAL_MS),
        "HELIXQ_SIM_COMPLETION_TOKENS": str(COMPLETION_TOKENS),
    }
    command = [sys.executable, "-m", "simulator", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "WARNING"]
    base_url = f"http://127.0.0.1:{port}"
    supervisor = Supervisor(cwd=ROOT)
    try:
        supervisor.start("simulator", command, env)
        supervisor.wait_until_ready(
            lambda: answers(f"{base_url}/_sim/health"),
            timeout_s=20,
            what="the simulator",
        )
        yield base_url
    finally:
        supervisor.stop_all(5)
