"""The wire format both ends share (shared.task_messages) is exactly what Celery's own
send_task writes, and the API's publish paths (single jobs and batches) write it."""

import asyncio
import base64
import json
import uuid

import pytest
import redis

from broker_api.enqueue import MESSAGE_GROUP, CeleryEnqueuer, make_sender
from shared.queues import TaskName
from shared.task_messages import Priority, completion_message, redis_list_key
from tests.services import Services
from tests.task_message_shapes import message_shape

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _same_shape(
    written: dict, job_id: uuid.UUID, expected: dict, expected_id: uuid.UUID
) -> None:
    shapes = [
        json.loads(json.dumps(message_shape(message)).replace(str(one_id), "ID"))
        for message, one_id in ((written, job_id), (expected, expected_id))
    ]
    for shape in shapes:
        shape["body"] = None  # compared decoded below
    assert shapes[0] == shapes[1]
    assert json.loads(base64.b64decode(written["body"]))[0] == [str(job_id)]
    assert json.loads(base64.b64decode(expected["body"]))[0] == [str(expected_id)]


@pytest.mark.parametrize("priority", [Priority.INTERACTIVE, Priority.BATCH])
def test_the_contract_message_is_what_send_task_writes(
    services: Services, redis_client: redis.Redis, priority: Priority
) -> None:
    job_id = uuid.uuid4()
    sender = make_sender(services.redis_url)
    sender.send_task(
        TaskName.RUN_COMPLETION.value,
        args=[str(job_id)],
        task_id=str(job_id),
        queue="tenant.acme",
        priority=int(priority),
        retry=False,
    )
    sender.close()
    key = redis_list_key("tenant.acme", int(priority))
    (from_celery,) = (json.loads(m) for m in redis_client.lrange(key, 0, -1))
    redis_client.delete(key)
    contract = completion_message([job_id], "tenant.acme", priority, origin="test")
    assert from_celery["headers"]["id"] == str(job_id)
    _same_shape(from_celery, job_id, json.loads(json.dumps(contract)), job_id)


@pytest.mark.parametrize("priority", [Priority.INTERACTIVE, Priority.BATCH])
async def test_published_messages_match_send_task(
    services: Services, redis_client: redis.Redis, priority: Priority
) -> None:
    celery, single, bulk = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    sender = make_sender(services.redis_url)
    sender.send_task(
        TaskName.RUN_COMPLETION.value,
        args=[str(celery)],
        task_id=str(celery),
        queue="tenant.acme",
        priority=int(priority),
        retry=False,
    )
    sender.close()
    enqueuer = CeleryEnqueuer(services.redis_url)
    await enqueuer.enqueue_completion(single, "acme", priority)
    await enqueuer.enqueue_completions([bulk], "acme", priority)
    await enqueuer.close()
    key = redis_list_key("tenant.acme", int(priority))
    # LPUSH, consumed from the right: the oldest message is the last of the list.
    from_bulk, from_single, from_celery = (
        json.loads(m) for m in redis_client.lrange(key, 0, -1)
    )
    redis_client.delete(key)
    assert from_single["headers"]["id"] == str(single)
    assert from_bulk["headers"]["id"] == str(bulk)
    _same_shape(from_single, single, from_celery, celery)
    _same_shape(from_bulk, bulk, from_celery, celery)


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
    redis_client.delete(key)
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
