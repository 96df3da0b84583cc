"""With Redis ack emulation on, every completion message is acked once its job is
claimed, both those the consumer starts itself and a retry's, which waits out its
countdown in Celery: nothing is left in kombu's unacked hash to be redelivered."""

import json
import time

import pytest
import redis

from tests.e2e.conftest import Client, Stack
from tests.e2e.test_pipeline import submit, wait_terminal
from tests.services import Services

pytestmark = pytest.mark.timeout(180)

UNACKED = "unacked"  # kombu's Redis transport: delivered, not yet acked


def _unacked(broker: redis.Redis, job_ids: list[str]) -> set[str]:
    """Those of the jobs with a message delivered and not acked (a message is named
    after its job)."""
    held = (json.loads(entry)[0]["headers"]["id"] for entry in broker.hvals(UNACKED))
    return set(job_ids) & set(held)


def test_with_ack_emulation_every_completion_message_is_acked(
    stack: Stack, tenant_client: Client, services: Services
) -> None:
    broker = redis.Redis.from_url(services.redis_url)
    stack.processes.kill("worker")
    try:
        stack.start_worker("worker", HELIXQ_BROKER_ACK_EMULATION="true")
        job_ids = [submit(tenant_client) for _ in range(5)]
        job_ids.append(submit(tenant_client, model="sim/429-then-ok"))

        views = [
            wait_terminal(tenant_client, job_id, timeout_s=60) for job_id in job_ids
        ]

        assert [view["status"] for view in views] == ["succeeded"] * 6
        assert views[-1]["retries"] == 1  # its second message came with a countdown
        deadline = time.monotonic() + 10
        while _unacked(broker, job_ids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _unacked(broker, job_ids) == set()
    finally:
        stack.processes.kill("worker")
        stack.start_worker()
        broker.close()
