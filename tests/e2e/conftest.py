"""A whole broker as processes: simulator, API, worker and beat on test services."""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from helixq.processes import Supervisor, answers, free_port
from shared.tenancy import create_api_key, create_tenant
from tests.factories import unique_name
from tests.services import Services
from tests.webhook_receiver import receiver  # noqa: F401  (the fixture, by name)

SIMULATOR_KEY = "sk-or-v1-e2e-simulator-key"
HELIXQ = str(Path(sys.executable).parent / "helixq")
LOG_DIR = Path("tests/artifacts/e2e-logs")
READY_TIMEOUT_S = 30
STOP_GRACE_S = 10


@dataclass
class Stack:
    processes: Supervisor
    env: dict[str, str]
    api_url: str
    simulator_url: str

    def start(self, name: str, argv: list[str], **env: str) -> int:
        """Start `argv` as `name`, with `env` over the stack's; its pid. Its output
        is appended to `<name>.log` in LOG_DIR."""
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = LOG_DIR / f"{name}.log"
        return self.processes.start(name, argv, {**self.env, **env}, log=log)

    def start_worker(self, name: str = "worker", *options: str, **env: str) -> int:
        """Start a worker node; its pid."""
        return self.start(name, [HELIXQ, "worker", "-c", "32", *options], **env)

    def simulator_calls(self) -> dict[str, object]:
        response = httpx.get(f"{self.simulator_url}/_sim/calls", timeout=5)
        response.raise_for_status()
        calls: dict[str, object] = response.json()
        return calls


def _environment(services: Services, sim_port: int, api_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "OPENROUTER_API_KEY": SIMULATOR_KEY,
        "OPENROUTER_BASE_URL": f"http://127.0.0.1:{sim_port}/api/v1",
        "OPENROUTER_MAX_RETRIES": "3",
        "HELIXQ_API_PORT": str(api_port),
        "HELIXQ_SIM_LATENCY_MS": "20",
        # Short leases and sweeps so that crash recovery fits in a test; the lease
        # must outlast the call timeout, which must outlast `sim/slow` (3 s).
        "OPENROUTER_TIMEOUT": "5",
        "HELIXQ_JOB_LEASE_S": "6",
        "HELIXQ_SWEEP_INTERVAL_S": "1",
        "HELIXQ_QUEUED_STALE_S": "3",
        "HELIXQ_BATCH_SWEEP_INTERVAL_S": "1",
        # A beat started after one was killed takes the lead once its lease lapses.
        "HELIXQ_BEAT_LEASE_S": "3",
        # The discount lane at test pace: sent and polled every second, and the
        # simulator's Batch API answering within a few seconds.
        "HELIXQ_DISCOUNT_INTERVAL_S": "1",
        "HELIXQ_DISCOUNT_POLL_FIRST_S": "0.5",
        "HELIXQ_DISCOUNT_POLL_MAX_S": "1",
        "HELIXQ_SIM_BATCH_VALIDATING_S": "0.5",
        "HELIXQ_SIM_BATCH_IN_PROGRESS_S": "2",
        # The test's webhook receiver listens on 127.0.0.1.
        "HELIXQ_WEBHOOK_ALLOW_PRIVATE": "true",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="session")
def stack(services: Services) -> Iterator[Stack]:
    sim_port, api_port = free_port(), free_port()
    processes = Supervisor()
    stack = Stack(
        processes,
        env=_environment(services, sim_port, api_port),
        api_url=f"http://127.0.0.1:{api_port}",
        simulator_url=f"http://127.0.0.1:{sim_port}",
    )
    try:
        simulator = [sys.executable, "-m", "simulator", "--host", "127.0.0.1"]
        stack.start("simulator", [*simulator, "--port", str(sim_port)])
        stack.start("api", [HELIXQ, "api", "--port", str(api_port)])
        stack.start("beat", [HELIXQ, "beat"])
        stack.start_worker()
        processes.wait_until_ready(
            lambda: answers(f"{stack.simulator_url}/_sim/health"),
            timeout_s=READY_TIMEOUT_S,
            what="the simulator",
        )
        processes.wait_until_ready(
            lambda: answers(f"{stack.api_url}/healthz"),
            timeout_s=READY_TIMEOUT_S,
            what="the API",
        )
        yield stack
    finally:
        processes.stop_all(STOP_GRACE_S)


@contextmanager
def own_stack(
    services: Services, prefix: str, env: dict[str, str], *, beat: bool = False
) -> Iterator[Stack]:
    """A simulator, API and worker (and beat) of their own on `services`, with
    `env` over the usual environment; their logs are `<prefix>-<process>.log`."""
    sim_port, api_port = free_port(), free_port()
    stack = Stack(
        Supervisor(),
        env=_environment(services, sim_port, api_port) | env,
        api_url=f"http://127.0.0.1:{api_port}",
        simulator_url=f"http://127.0.0.1:{sim_port}",
    )
    try:
        simulator = [HELIXQ, "simulator", "--host", "127.0.0.1"]
        stack.start(f"{prefix}-simulator", [*simulator, "--port", str(sim_port)])
        stack.start(f"{prefix}-api", [HELIXQ, "api", "--port", str(api_port)])
        stack.start_worker(f"{prefix}-worker")
        if beat:
            stack.start(f"{prefix}-beat", [HELIXQ, "beat"])
        stack.processes.wait_until_ready(
            lambda: answers(f"{stack.simulator_url}/_sim/health"),
            timeout_s=READY_TIMEOUT_S,
            what="the simulator",
        )
        stack.processes.wait_until_ready(
            lambda: answers(f"{stack.api_url}/healthz"),
            timeout_s=READY_TIMEOUT_S,
            what="the API",
        )
        yield stack
    finally:
        stack.processes.stop_all(STOP_GRACE_S)


@dataclass(frozen=True)
class Client:
    """A tenant's HTTP client against the running API."""

    slug: str
    key: str
    http: httpx.Client


def _tenant_client(engine: Engine, stack: Stack) -> Client:
    with Session(engine) as session, session.begin():
        tenant = create_tenant(session, unique_name())
        key = create_api_key(session, tenant).key
        slug = tenant.slug  # read while the session is open
    http = httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    return Client(slug=slug, key=key, http=http)


@pytest.fixture
def tenant_client(engine: Engine, stack: Stack) -> Iterator[Client]:
    client = _tenant_client(engine, stack)
    yield client
    client.http.close()


@pytest.fixture
def second_tenant_client(engine: Engine, stack: Stack) -> Iterator[Client]:
    client = _tenant_client(engine, stack)
    yield client
    client.http.close()
