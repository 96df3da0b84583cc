"""The run_completion wire format both ends share (shared.task_messages)."""

import base64
import json
import uuid

from kombu.transport import redis as kombu_redis

from broker_api.enqueue import make_sender
from shared.task_messages import (
    PRIORITY_SEPARATOR,
    PRIORITY_STEPS,
    TRANSPORT_OPTIONS,
    Priority,
    completion_message,
    redis_list_key,
    started_job_ids,
)
from workers.runtime.celery_app import create_app


def test_the_priority_lists_are_kombus_own() -> None:
    # Setting them on both ends changes nothing kombu would do by default.
    assert kombu_redis.Channel.sep == PRIORITY_SEPARATOR
    assert list(PRIORITY_STEPS) == list(kombu_redis.PRIORITY_STEPS)
    assert redis_list_key("tenant.a", 0) == "tenant.a"
    assert redis_list_key("tenant.a", Priority.BATCH) == "tenant.a\x06\x166"


def test_both_ends_name_the_same_priority_lists() -> None:
    api = make_sender("redis://127.0.0.1:6379/0").conf.broker_transport_options
    worker = create_app().conf.broker_transport_options
    for options in (api, worker):
        assert {key: options.get(key) for key in TRANSPORT_OPTIONS} == TRANSPORT_OPTIONS


def test_the_consumer_reads_back_the_job_ids_a_message_carries() -> None:
    job_ids = [uuid.uuid4() for _ in range(3)]
    message = completion_message(job_ids, "tenant.a", Priority.BATCH, origin="test")
    properties = message["properties"]
    assert isinstance(properties, dict)
    assert properties["priority"] == Priority.BATCH
    body = message["body"]
    assert isinstance(body, str)
    args, kwargs, embed = json.loads(base64.b64decode(body))
    assert started_job_ids(args, kwargs, embed) == job_ids


def test_messages_the_consumer_must_leave_to_celery() -> None:
    job_id = str(uuid.uuid4())
    assert started_job_ids([], {}, {}) is None
    assert started_job_ids([job_id], {"x": 1}, {}) is None
    assert started_job_ids([job_id], {}, {"callbacks": [{"task": "t"}]}) is None
    assert started_job_ids(["not-a-uuid"], {}, {}) is None
