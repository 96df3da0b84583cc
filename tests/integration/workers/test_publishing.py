"""The event loop publishes a job's retry and its webhook delivery itself, and what
it writes is what Celery's own send_task writes (shared.task_messages)."""

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest
import redis

from shared.queues import Queue
from shared.task_messages import redis_list_key
from tests.services import Services
from tests.task_message_shapes import message_shape
from workers.runtime.celery_app import create_app
from workers.runtime.event_loop import EventLoopThread
from workers.runtime.job_sender import CeleryJobSender
from workers.runtime.publishing import RedisTaskPublisher
from workers.runtime.redis_batching import RedisBatcher
from workers.webhooks.sender import CeleryDeliverySender

# Set anew for every message that a retry or a delivery publishes.
ALSO_VARYING = ("eta", "id", "root_id", "correlation_id")


@pytest.fixture
def celery_app(services: Services):
    app = create_app()
    app.conf.broker_url = services.redis_url
    yield app
    app.close()


@pytest.fixture
def publish(services: Services):
    """Run one publisher call on an event loop, as the worker's loop does."""
    loop = EventLoopThread()
    client = redis.asyncio.Redis.from_url(services.redis_url)
    publisher = RedisTaskPublisher(RedisBatcher(client))
    yield lambda call: loop.run(call(publisher))
    loop.run(client.aclose())
    loop.stop()


def _popped(client: redis.Redis, key: str) -> list[dict]:
    messages = [json.loads(m) for m in reversed(client.lrange(key, 0, -1))]
    client.delete(key)
    return messages


def test_a_retry_is_what_send_task_writes_with_its_countdown(
    celery_app, publish, redis_client: redis.Redis
) -> None:
    job_id, queue = uuid.uuid4(), f"tenant.retry-{uuid.uuid4().hex[:8]}"
    before = datetime.now(UTC)
    CeleryJobSender(celery_app).send(job_id, queue, countdown_s=30)
    publish(lambda publisher: publisher.retry(job_id, queue, countdown_s=30))

    from_celery, ours = _popped(redis_client, redis_list_key(queue, 0))

    assert message_shape(ours, also_varying=ALSO_VARYING) == message_shape(
        from_celery, also_varying=ALSO_VARYING
    )
    for message in (from_celery, ours):
        assert message["headers"]["id"] == str(job_id)
        eta = datetime.fromisoformat(message["headers"]["eta"])
        assert 29 <= (eta - before).total_seconds() <= 35
        assert json.loads(base64.b64decode(message["body"]))[0] == [str(job_id)]


def test_a_webhook_delivery_is_what_send_task_writes(
    celery_app, publish, redis_client: redis.Redis
) -> None:
    delivery_id = uuid.uuid4()
    key = redis_list_key(Queue.WEBHOOKS.value, 0)
    redis_client.delete(key)
    CeleryDeliverySender(celery_app).send(delivery_id)
    publish(lambda publisher: publisher.delivery(delivery_id))

    from_celery, ours = _popped(redis_client, key)

    assert message_shape(ours, also_varying=ALSO_VARYING) == message_shape(
        from_celery, also_varying=ALSO_VARYING
    )
    assert ours["headers"]["eta"] is None
    for message in (from_celery, ours):
        assert json.loads(base64.b64decode(message["body"]))[0] == [str(delivery_id)]
