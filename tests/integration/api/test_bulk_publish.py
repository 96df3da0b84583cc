"""The pipelined publish path writes exactly what Celery's own send_task writes."""

import asyncio
import base64
import json
import uuid

import pytest
import redis

from broker_api.enqueue import (
    MESSAGE_GROUP,
    CeleryEnqueuer,
    Priority,
    make_sender,
    redis_list_key,
)
from shared.queues import TaskName
from tests.services import Services

pytestmark = pytest.mark.anyio

# Fields that differ between any two messages (ids, tags, the sending host).
VARYING = {
    "origin",
    "delivery_tag",
    "reply_to",
    "ignore_result",
    "stamped_headers",
    "replaced_task_nesting",
    "stamps",
}


def _shape(message: dict) -> dict:
    headers = {k: v for k, v in message["headers"].items() if k not in VARYING}
    properties = {k: v for k, v in message["properties"].items() if k not in VARYING}
    return {**message, "headers": headers, "properties": properties}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _send_with_celery(redis_url: str, job_id: uuid.UUID, priority: Priority) -> None:
    app = make_sender(redis_url)
    app.send_task(
        TaskName.RUN_COMPLETION.value,
        args=[str(job_id)],
        task_id=str(job_id),
        queue="tenant.acme",
        priority=int(priority),
        retry=False,
    )
    app.close()


def _comparable(message: dict, job_id: uuid.UUID) -> dict:
    shape = json.loads(json.dumps(_shape(message)).replace(str(job_id), "ID"))
    shape["body"] = None  # compared decoded
    return shape


@pytest.mark.parametrize("priority", [Priority.INTERACTIVE, Priority.BATCH])
async def test_published_messages_match_send_task(
    services: Services, redis_client: redis.Redis, priority: Priority
) -> None:
    enqueuer = CeleryEnqueuer(services.redis_url)
    celery, single, bulk = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    _send_with_celery(services.redis_url, celery, priority)
    await enqueuer.enqueue_completion(single, "acme", priority)
    await enqueuer.enqueue_completions([bulk], "acme", priority)
    await enqueuer.close()
    key = redis_list_key("tenant.acme", int(priority))
    # LPUSH, consumed from the right: the oldest message is the last of the list.
    from_bulk, from_single, from_celery = (
        json.loads(m) for m in redis_client.lrange(key, 0, -1)
    )
    expected = _comparable(from_celery, celery)
    for message, job_id in ((from_single, single), (from_bulk, bulk)):
        assert message["headers"]["id"] == str(job_id)
        assert _comparable(message, job_id) == expected
        assert json.loads(base64.b64decode(message["body"]))[0] == [str(job_id)]


async def test_concurrent_single_jobs_are_each_published_once(
    services: Services, redis_client: redis.Redis
) -> None:
    enqueuer = CeleryEnqueuer(services.redis_url)
    job_ids = [uuid.uuid4() for _ in range(50)]
    await asyncio.gather(
        *(enqueuer.enqueue_completion(j, "many", Priority.JOB) for j in job_ids)
    )
    await enqueuer.close()
    key = redis_list_key("tenant.many", int(Priority.JOB))
    messages = [json.loads(m) for m in reversed(redis_client.lrange(key, 0, -1))]
    assert [m["headers"]["id"] for m in messages] == [str(j) for j in job_ids]


async def test_a_batch_is_published_in_groups_of_jobs_a_message(
    services: Services, redis_client: redis.Redis
) -> None:
    enqueuer = CeleryEnqueuer(services.redis_url)
    job_ids = [uuid.uuid4() for _ in range(2 * MESSAGE_GROUP + 3)]
    await enqueuer.enqueue_completions(job_ids, "grouped", Priority.BATCH)
    await enqueuer.close()
    key = redis_list_key("tenant.grouped", int(Priority.BATCH))
    # LPUSH, consumed from the right: the oldest message is the last of the list.
    messages = [json.loads(m) for m in reversed(redis_client.lrange(key, 0, -1))]
    redis_client.delete(key)

    groups = [json.loads(base64.b64decode(m["body"]))[0] for m in messages]
    assert [len(group) for group in groups] == [MESSAGE_GROUP, MESSAGE_GROUP, 3]
    assert [job for group in groups for job in group] == [str(j) for j in job_ids]
    assert [m["headers"]["id"] for m in messages] == [group[0] for group in groups]
