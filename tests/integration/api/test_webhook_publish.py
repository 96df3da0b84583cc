"""The API's Celery enqueuer publishes a replayed delivery for the workers at once."""

import base64
import json
import uuid

import pytest
import redis

from broker_api.enqueue import CeleryEnqueuer
from shared.queues import Queue, TaskName
from tests.services import Services

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_enqueue_webhook_sends_deliver_webhook_to_the_webhooks_queue(
    services: Services, redis_client: redis.Redis
) -> None:
    delivery_id = uuid.uuid4()
    enqueuer = CeleryEnqueuer(services.redis_url)
    try:
        await enqueuer.enqueue_webhook(delivery_id)
    finally:
        await enqueuer.close()

    [raw] = redis_client.lrange(Queue.WEBHOOKS.value, 0, -1)
    message = json.loads(raw)
    assert message["headers"]["task"] == TaskName.DELIVER_WEBHOOK.value
    assert json.loads(base64.b64decode(message["body"]))[0] == [str(delivery_id)]
