"""Celery task messages as both ends write and read them: Celery's protocol 2 on
kombu's Redis transport.

The API publishes jobs by pushing these messages itself (broker_api.enqueue): a
batch's several jobs a message, many a round trip; single jobs one a message,
pipelined with those of concurrent submissions. Celery's `send_task` writes the
same shape. A worker's consumer reads the
job ids back out of a message and starts the jobs on its event loop without
Celery's task machinery (workers.runtime.consumer), and its event loop publishes
a job's retry and its webhook delivery the same way, without a blocking client
(workers.runtime.publishing). Both ends configure kombu's
Redis transport with TRANSPORT_OPTIONS, so they name the same priority lists.
tests/integration/api/test_bulk_publish.py holds these messages against what
`send_task` writes.
"""

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import IntEnum
from uuid import UUID, uuid4

from shared.queues import TaskName

# kombu's Redis transport keeps one list per priority step, `<queue><sep><step>`
# (step 0 is the bare queue name), and consumes them in step order, 0 first.
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
TRANSPORT_OPTIONS: dict[str, object] = {
    "sep": PRIORITY_SEPARATOR,
    "priority_steps": list(PRIORITY_STEPS),
}
# The body's third part: Celery's chaining. A message with any of them set needs
# Celery's own path, which runs them.
EMBEDDED_KEYS = ("callbacks", "errbacks", "chain", "chord")

Message = dict[str, object]


class Priority(IntEnum):
    """A completion message's priority step: lower is consumed first."""

    INTERACTIVE = 0  # a caller is waiting on the HTTP connection
    JOB = 3
    BATCH = 6


def redis_list_key(queue: str, priority: int) -> str:
    """The Redis list holding `queue`'s messages of one priority step."""
    return queue if priority == 0 else f"{queue}{PRIORITY_SEPARATOR}{priority}"


def completion_message(
    job_ids: Sequence[UUID],
    queue: str,
    priority: int,
    *,
    origin: str,
    eta: datetime | None = None,
) -> Message:
    """The message `send_task` would write for run_completion with `job_ids` as
    its arguments; it is named after its first job. `origin` names the sender;
    `eta` holds it back until then (a retry's countdown)."""
    return task_message(
        TaskName.RUN_COMPLETION,
        [str(job_id) for job_id in job_ids],
        task_id=str(job_ids[0]),
        queue=queue,
        priority=priority,
        origin=origin,
        eta=eta,
    )


def task_message(
    task: TaskName,
    args: Sequence[str],
    *,
    task_id: str,
    queue: str,
    origin: str,
    priority: int = 0,
    eta: datetime | None = None,
) -> Message:
    """The message `send_task` writes for `task` with `args`, on the default
    exchange (the list named `queue`, at `priority`'s step)."""
    args = list(args)
    body = [args, {}, dict.fromkeys(EMBEDDED_KEYS)]
    return {
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": task.value,
            "id": task_id,
            "shadow": None,
            "eta": None if eta is None else eta.isoformat(),
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": repr(args),
            "kwargsrepr": "{}",
            "origin": origin,
            "ignore_result": True,
        },
        "properties": {
            "correlation_id": task_id,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": priority,
            "body_encoding": "base64",
            # kombu tells in-hand messages apart by it (the unacked hash).
            "delivery_tag": str(uuid4()),
        },
    }


def started_job_ids(
    args: object, kwargs: object, embed: Mapping[str, object] | None
) -> list[UUID] | None:
    """The job ids of a decoded run_completion body, or None when the message
    must go Celery's way: keyword arguments, chained tasks, no job, or an
    argument that is not a job id (the task then reports it)."""
    if kwargs or not args or not isinstance(args, list | tuple):
        return None
    if any((embed or {}).get(key) for key in EMBEDDED_KEYS):
        return None
    try:
        return [UUID(str(job_id)) for job_id in args]
    except ValueError:
        return None
