"""How a worker's consumer hands `run_completion` messages straight to the event loop.

Celery's own path for a message (a Request object, the pool's hand-off to a task
thread, the tracer, the result callback) is a large share of a worker's CPU for a
job sent alone, and none of it is needed to start a job on the loop. A task's
`Strategy` is Celery's hook for what the consumer does with the task's messages;
this one reads the message's job ids (shared.task_messages) on the consumer's
thread, starts them on the
process's loop (workers.jobs.completion.start: in-flight slots, claim,
admission) and acks the message once that has returned, as the task would have.
Nothing else changes: a message is in hand until acked, the consumer holds at most
its prefetch count of them (HELIXQ_WORKER_CONCURRENCY while jobs wait for tokens,
workers.runtime.intake), so while jobs wait for slots or rate-limit tokens the
consumer fetches no more; that is the backpressure fairness between tenants relies
on. An error starting the jobs is logged and the message acked, like a task that
raised: the jobs are still `queued` in Postgres and the sweeper re-sends them.

Messages this path does not take go Celery's way, to the task in
workers.runtime.tasks: an ETA (a retry's countdown: Celery's timer holds it), an
expiry, a revoked id, chained callbacks, protocol 1, arguments that are not job ids
(the task raises the error), task events on (monitoring asked for them), or a
consumer without an event hub.
"""

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any
from uuid import UUID

from celery import Celery, Task
from celery.worker import strategy

from shared.task_messages import started_job_ids
from workers.runtime.process import provider_of

logger = logging.getLogger(__name__)

# Celery's message handler: (message, body, ack, reject, callbacks, **options).
Handler = Callable[..., Any]


def completion_strategy(
    task: Task[Any, Any], app: Celery, consumer: Any, **options: Any
) -> Handler:
    """The consumer's handler for `run_completion` messages (Task.Strategy)."""
    celery_path: Handler = strategy.default(task, app, consumer, **options)
    if consumer.hub is None or _sends_task_events(consumer.event_dispatcher, task):
        return celery_path
    processes = provider_of(app)
    revoked = consumer.controller.state.revoked
    connection_errors = consumer.connection_errors

    def handle(
        message: Any, body: Any, ack: Any, reject: Any, callbacks: Any, **more: Any
    ) -> Any:
        job_ids = None if body is not None else _job_ids_to_start_now(message, revoked)
        if job_ids is None:
            return celery_path(message, body, ack, reject, callbacks, **more)
        try:
            process = processes.get()
        except Exception:  # not built (Postgres away?): the task reports why
            return celery_path(message, body, ack, reject, callbacks, **more)
        process.intake.on_message(consumer.qos)
        started = process.loop.submit(process.completions.start(job_ids))
        started.add_done_callback(
            partial(_acknowledge, ack, connection_errors, message.headers["id"])
        )
        return None

    return handle


def _sends_task_events(events: Any, task: Task[Any, Any]) -> bool:
    # Without -E the dispatcher is on for worker heartbeats only (its groups).
    if not (events and events.enabled and task.send_events):
        return False
    return not events.groups or "task" in events.groups


def _job_ids_to_start_now(message: Any, revoked: Any) -> Sequence[UUID] | None:
    """The job ids of a protocol 2 message this path can start at once, or None
    for a message that must go Celery's way."""
    headers = message.headers or {}
    if headers.get("eta") or headers.get("expires") or headers.get("id") in revoked:
        return None
    try:
        args, kwargs, embed = message.decode()
        return started_job_ids(args, kwargs, embed)
    except Exception:  # anything unreadable goes Celery's way, which reports it
        return None


def _acknowledge(
    ack: Any, connection_errors: Any, message_id: str, started: Future[int]
) -> None:
    # On the loop's thread; `ack` hands the ack to the consumer's hub (thread-safe).
    if started.cancelled():
        # Stopped at shutdown: jobs not yet claimed are still `queued` (the sweeper
        # re-sends them); claimed ones were handed back (workers.jobs.completion).
        return
    error = started.exception()
    if error is not None:
        logger.error(
            "run_completion[%s]: could not start its jobs", message_id, exc_info=error
        )
    ack(logger, connection_errors)
