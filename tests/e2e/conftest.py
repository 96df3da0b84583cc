"""A whole broker as processes: simulator, API, worker and beat on test services."""

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from shared.tenancy import create_api_key, create_tenant
from tests.e2e.processes import BIN, ProcessGroup, answers, free_port
from tests.factories import unique_name
from tests.polling import wait_until
from tests.services import Services
from tests.webhook_receiver import receiver  # noqa: F401  (the fixture, by name)

SIMULATOR_KEY = "sk-or-v1-e2e-simulator-key"


@dataclass
class Stack:
    processes: ProcessGroup
    api_url: str
    simulator_url: str

    def start_worker(self, name: str = "worker", *options: str, **env: str) -> int:
        """Start a worker node; its pid."""
        argv = [str(BIN / "helixq"), "worker", "-c", "32", *options]
        return self.processes.start(name, argv, **env).pid

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
        # The test's webhook receiver listens on 127.0.0.1.
        "HELIXQ_WEBHOOK_ALLOW_PRIVATE": "true",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="session")
def stack(services: Services) -> Iterator[Stack]:
    sim_port, api_port = free_port(), free_port()
    processes = ProcessGroup(env=_environment(services, sim_port, api_port))
    stack = Stack(
        processes,
        api_url=f"http://127.0.0.1:{api_port}",
        simulator_url=f"http://127.0.0.1:{sim_port}",
    )
    try:
        processes.start(
            "simulator",
            [
                sys.executable,
                "-m",
                "simulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(sim_port),
            ],
        )
        processes.start("api", [str(BIN / "helixq"), "api", "--port", str(api_port)])
        processes.start("beat", [str(BIN / "helixq"), "beat"])
        stack.start_worker()
        wait_until(
            lambda: answers(f"{stack.simulator_url}/_sim/health"),
            timeout_s=30,
            what="the simulator",
        )
        wait_until(
            lambda: answers(f"{stack.api_url}/healthz"), timeout_s=30, what="the API"
        )
        yield stack
    finally:
        processes.stop_all()


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
