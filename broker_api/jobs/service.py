"""Job use cases: submit and read, on the API's psycopg pool (broker_api.db_pool)."""

import logging
import time
import uuid
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from broker_api import idempotency
from broker_api.db_pool import Pool
from broker_api.deps import Caller
from broker_api.enqueue import Enqueuer
from broker_api.jobs import queries
from broker_api.jobs.views import JobAccepted, JobView, job_view
from broker_api.jobs.writer import JobWriter
from broker_api.waiters import JobWaiters, wait_for
from shared.errors import JobNotFound, JobNotStreamed
from shared.jobs import JobStatus
from shared.model_access import with_allowed
from shared.routing.validation import check_allowed_models, validate_route
from shared.schemas import EmbeddingsJob, JobCreate
from shared.task_messages import Priority

logger = logging.getLogger(__name__)

# What a job can be made of: a chat completion or an embeddings request.
JobRequest = JobCreate | EmbeddingsJob


async def submit_job(
    writer: JobWriter,
    enqueuer: Enqueuer,
    caller: Caller,
    request: JobRequest,
    *,
    job_id: UUID | None = None,
    idempotency_key: str | None = None,
    priority: Priority = Priority.JOB,
    catalog_ids: frozenset[str] = frozenset(),
) -> JobAccepted:
    """Commit the job row, then publish its id. The row is the job: if publishing
    fails, the sweeper sends it later, so the client still gets its id.

    Unknown models or strategies are refused (422, with close matches) first;
    `catalog_ids` are the embedding models' for an embeddings request.
    Without an Idempotency-Key the row is inserted with those of concurrent
    submissions (broker_api.jobs.writer); with one, the key's reservation, the row
    and the stored answer commit together in a transaction of their own."""
    kind = "embedding model" if isinstance(request, EmbeddingsJob) else "model"
    body = request.model_dump(exclude_none=True)
    validate_route(body, catalog_ids, kind=kind)
    check_allowed_models(body, caller.allowed_models)
    values = _job_values(job_id or uuid.uuid4(), caller, request, priority)
    if idempotency_key is None:
        accepted = _accepted(values, await writer.insert(values))
    else:
        body_hash = idempotency.request_hash(request.model_dump(mode="json"))
        async with writer.pool.connection() as connection:
            replayed, accepted = await _insert_once(
                connection, caller, values, idempotency_key, body_hash
            )
        if replayed:
            return accepted
    await publish(enqueuer, accepted.id, caller.slug, priority)
    return accepted


async def _insert_once(
    connection: AsyncConnection[DictRow],
    caller: Caller,
    values: dict[str, Any],
    key: str,
    body_hash: str,
) -> tuple[bool, JobAccepted]:
    """(True, the first answer) for a repeated key; else (False, the new job)."""
    run = idempotency.on_connection(connection)
    async with connection.transaction():
        stored = await idempotency.reserve(run, caller.tenant_id, key, body_hash)
        if stored is not None:
            return True, JobAccepted.model_validate(stored.body)
        accepted = _accepted(values, await queries.insert_job(connection, values))
        answer = idempotency.StoredAnswer(202, accepted.model_dump(mode="json"))
        await idempotency.remember(run, caller.tenant_id, key, answer)
    return False, accepted


def _job_values(
    job_id: UUID, caller: Caller, request: JobRequest, priority: Priority
) -> dict[str, Any]:
    return {
        "id": job_id,
        "tenant_id": caller.tenant_id,
        "status": JobStatus.QUEUED.value,
        "request": request.completion_body(),
        "route": with_allowed(
            request.route.model_dump(exclude_none=True) if request.route else None,
            caller.allowed_models,
        ),
        "custom_id": request.custom_id,
        "metadata": request.metadata,
        "webhook_url": request.webhook_url,
        "priority": int(priority),
    }


def _accepted(values: dict[str, Any], created_at: Any) -> JobAccepted:
    return JobAccepted(
        id=values["id"],
        status=values["status"],
        custom_id=values["custom_id"],
        created_at=created_at,
    )


async def publish(
    enqueuer: Enqueuer, job_id: UUID, slug: str, priority: Priority = Priority.JOB
) -> None:
    """Send a committed job to its tenant's queue; a failure is left to the sweeper."""
    try:
        await enqueuer.enqueue_completion(job_id, slug, priority)
    except Exception:
        logger.warning(
            "job %s committed but not published; the sweeper will send it",
            job_id,
            exc_info=True,
        )


async def read_job(
    pool: Pool, caller: Caller, job_id: UUID, *, with_attempts: bool = True
) -> JobView:
    """The tenant's job (JobNotFound for another tenant's); `with_attempts=False`
    leaves its attempts out (an empty list) and saves their statement."""
    async with pool.connection() as connection:
        row = await queries.find_job_row(connection, caller.tenant_id, job_id)
        if row is None:
            raise JobNotFound(job_id)
        attempts = (
            await queries.list_attempt_rows(connection, job_id) if with_attempts else []
        )
    return job_view(row, attempts)


async def read_followable_job(pool: Pool, caller: Caller, job_id: UUID) -> JobView:
    """The job, if its tokens can be followed: submitted with `stream: true`, or
    finished (its answer replays); raises JobNotFound (another tenant's job too)
    or JobNotStreamed."""
    async with pool.connection() as connection:
        row = await queries.find_job_row(connection, caller.tenant_id, job_id)
        if row is None:
            raise JobNotFound(job_id)
        is_terminal = JobStatus(row["status"]).is_terminal
        if row["request"].get("stream") is not True and not is_terminal:
            raise JobNotStreamed(job_id)
        attempts = await queries.list_attempt_rows(connection, job_id)
    return job_view(row, attempts)


async def wait_for_job(
    pool: Pool,
    waiters: JobWaiters,
    caller: Caller,
    job_id: UUID,
    *,
    wait_s: float,
    with_attempts: bool = True,
) -> JobView:
    """The job as soon as it is terminal, or as it stands after `wait_s` seconds.

    The waiter is registered before the first read, so a job finishing between a
    read and the wait still wakes it."""
    deadline = time.monotonic() + wait_s
    with waiters.watching(job_id) as finished:
        while True:
            view = await read_job(pool, caller, job_id, with_attempts=with_attempts)
            remaining = deadline - time.monotonic()
            if JobStatus(view.status).is_terminal or remaining <= 0:
                return view
            await wait_for(finished, remaining)
            finished.clear()


async def submit_and_wait(
    writer: JobWriter,
    enqueuer: Enqueuer,
    waiters: JobWaiters,
    caller: Caller,
    request: JobRequest,
    *,
    wait_s: float,
    catalog_ids: frozenset[str] = frozenset(),
    idempotency_key: str | None = None,
) -> JobView:
    """Submit at interactive priority and answer the job once it is terminal (or
    as it stands after `wait_s`), without its attempts. A repeated
    Idempotency-Key answers the job the first request created.

    The waiter is registered before the job is published, so the worker's notice
    cannot come too early, and the first read waits for it: a job just queued
    needs no look."""
    deadline = time.monotonic() + wait_s
    job_id = uuid.uuid4()
    with waiters.watching(job_id) as finished:
        accepted = await submit_job(
            writer,
            enqueuer,
            caller,
            request,
            job_id=job_id,
            idempotency_key=idempotency_key,
            priority=Priority.INTERACTIVE,
            catalog_ids=catalog_ids,
        )
        if accepted.id == job_id:  # a new job, not a replayed one
            await wait_for(finished, wait_s)
    remaining = max(0.0, deadline - time.monotonic())
    return await wait_for_job(
        writer.pool, waiters, caller, accepted.id, wait_s=remaining, with_attempts=False
    )
