"""`helixq flower` on the test broker: its Broker page lists every tenant queue.

No worker runs here, so nothing consumes the tenant queues and Flower has no
worker's active queues to go by: what it lists comes from the tenants themselves.
"""

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from broker_api.enqueue import redis_list_key
from helixq.processes import Supervisor, answers, free_port
from shared.db.models import Tenant
from shared.queues import tenant_queue
from shared.tenancy import create_tenant
from tests.factories import unique_name
from tests.polling import wait_until
from tests.services import Services

HELIXQ = str(Path(sys.executable).parent / "helixq")


@pytest.fixture
def committed_tenants(engine: Engine) -> Iterator[list[str]]:
    """Slugs of tenants a test commits (Flower reads them from its own process)."""
    slugs: list[str] = []
    yield slugs
    with Session(engine) as session, session.begin():
        session.execute(delete(Tenant).where(Tenant.slug.in_(slugs)))


def _commit_tenant(engine: Engine, slugs: list[str]) -> str:
    with Session(engine) as session, session.begin():
        slug = create_tenant(session, unique_name("flower")).slug
    slugs.append(slug)
    return slug


def _queue_messages(client: "redis.Redis[bytes]", slug: str, **by_step: int) -> None:
    """Push placeholder messages on `tenant.<slug>`'s priority lists: step_6=2, ..."""
    for name, count in by_step.items():
        key = redis_list_key(tenant_queue(slug), int(name.removeprefix("step_")))
        client.lpush(key, *[b"{}"] * count)


@pytest.fixture
def start_flower(
    services: Services, redis_client: "redis.Redis[bytes]"
) -> Iterator[Callable[[], str]]:
    """Start `helixq flower` on the test services; its URL once it answers."""
    processes = Supervisor()
    env = {
        **os.environ,
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "FLOWER_UNAUTHENTICATED_API": "true",
        "HELIXQ_TENANT_REFRESH_S": "0.2",
    }

    def start() -> str:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        processes.start("flower", [HELIXQ, "flower", "--port", str(port)], env)
        processes.wait_until_ready(
            lambda: answers(f"{url}/healthcheck"), timeout_s=30, what="Flower"
        )
        return url

    yield start
    processes.stop_all(grace_s=10)


def _queue_lengths(url: str) -> dict[str, int]:
    response = httpx.get(f"{url}/api/queues/length", timeout=10)
    response.raise_for_status()
    return {
        queue["name"]: queue["messages"] for queue in response.json()["active_queues"]
    }


def test_flower_lists_tenant_queues_from_the_start(
    engine: Engine,
    redis_client: "redis.Redis[bytes]",
    committed_tenants: list[str],
    start_flower: Callable[[], str],
) -> None:
    slug = _commit_tenant(engine, committed_tenants)
    _queue_messages(redis_client, slug, step_0=3, step_6=2)
    url = start_flower()
    lengths = _queue_lengths(url)
    assert lengths[tenant_queue(slug)] == 5
    assert lengths["maintenance"] == 0
    assert lengths["webhooks"] == 0
    assert tenant_queue(slug) in httpx.get(f"{url}/broker", timeout=10).text


def test_flower_lists_the_queue_of_a_tenant_created_after_it_started(
    engine: Engine,
    redis_client: "redis.Redis[bytes]",
    committed_tenants: list[str],
    start_flower: Callable[[], str],
) -> None:
    url = start_flower()
    slug = _commit_tenant(engine, committed_tenants)
    _queue_messages(redis_client, slug, step_3=4)
    queue = tenant_queue(slug)
    wait_until(
        lambda: _queue_lengths(url).get(queue) == 4,
        timeout_s=15,
        what=f"Flower to list {queue}",
    )
    assert queue in httpx.get(f"{url}/broker", timeout=10).text
