"""The statements of a job's own path that change its status, with the ledger writes
that go with them: claim, record an attempt, finish, fail, cancel, release, defer,
hand back at shutdown. The periodic tasks' moves (re-queue stale jobs, expire
overdue ones, the discount lane's) are in workers.jobs.periodic_transitions: these
two modules hold every statement a worker runs that changes a job's status.

Each move is guarded by the status it leaves (shared.jobs draws them). The job's
own path uses async functions taking a psycopg connection in autocommit mode (the
worker's AsyncConnectionPool, see workers.runtime.process). Each is one statement,
prepared on the server the first time a connection runs it: one round trip, no
BEGIN/COMMIT. Each write after the claim is guarded by the claim token, so a
worker whose lease was taken over changes nothing. The claim reads everything the
call needs, including whether the job's end is announced by webhook: only then
does finishing take a transaction block (the finish and its outbox row,
workers.webhooks.job_events).
"""

from collections.abc import Sequence
from typing import Any, TypeAlias
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from shared.cost import LEDGER_COST_SQL, reserve_cost
from shared.redaction import redact
from workers.jobs.records import AttemptRecord, Call, ClaimedJob, Ended
from workers.webhooks.job_events import ENDED_JOB_RETURNING, EndedJob, record_job_event

Connection: TypeAlias = AsyncConnection[TupleRow]
ConnectionPool: TypeAlias = AsyncConnectionPool[Connection]


# A job past its deadline is not started (workers.maintenance.batches expires it).
# A discount-lane job waits for OpenRouter's Batch API: it is never claimed here.
# A batch item is announced by its batch's event, unless it has a URL of its own.
# "Due" is a CASE, not `(status = 'queued' AND …) OR (status = 'running' AND …)`:
# that form lets the planner read the jobs through ix_jobs_unfinished, and with the
# statistics of a table that was just bulk-loaded (a batch) the generic plan of this
# prepared statement did so, reading every unfinished job to find the few named, so
# a claim slowed down with the queue's depth. The CASE cannot use that index; the
# primary key finds the named jobs whatever the queue's depth.
_CLAIM = """
UPDATE jobs SET status = 'running', claim_token = gen_random_uuid(),
    lease_expires_at = now() + make_interval(secs => %(lease_s)s),
    started_at = coalesce(jobs.started_at, now())
FROM tenants
WHERE jobs.id = ANY(%(job_ids)s) AND tenants.id = jobs.tenant_id
  AND CASE jobs.status WHEN 'queued' THEN jobs.available_at <= now()
                       WHEN 'running' THEN jobs.lease_expires_at < now()
                       ELSE false END
  AND (jobs.deadline_at IS NULL OR jobs.deadline_at > now())
  AND jobs.lane = 'realtime'
RETURNING jobs.id, jobs.claim_token, jobs.request, jobs.route, jobs.retries,
    tenants.default_model, tenants.slug,
    CASE WHEN jobs.batch_id IS NULL THEN coalesce(jobs.webhook_url, tenants.webhook_url)
         ELSE jobs.webhook_url END,
    tenants.route_strategy, tenants.fallback_strategy, tenants.model_pool,
    tenants.model_substitution
"""

# Written before the call, guarded by the claim: a worker that lost its claim makes
# no call, and a worker that dies mid-call still leaves the call in the ledger, at
# its reserved estimate (shared.cost) until OpenRouter's figure replaces it.
_BEGIN_ATTEMPT = """
INSERT INTO attempts (id, job_id, number, model, outcome, started_at, cost_usd,
    cost_source, cost_note)
SELECT %(attempt_id)s, jobs.id,
    (SELECT coalesce(max(number), 0) + 1 FROM attempts WHERE job_id = jobs.id),
    %(model)s, 'started', %(started_at)s, %(cost_usd)s, %(cost_source)s,
    %(cost_note)s
FROM jobs
WHERE jobs.id = %(job_id)s AND jobs.claim_token = %(token)s AND jobs.status = 'running'
"""

# The call's answer, onto the row written before it. Updating by id makes a retried
# write a no-op, and the answer lands even when the claim was lost meanwhile. A
# failure keeps the generation id its stream already gave (note_generation_id).
_RECORD_ATTEMPT = """
UPDATE attempts SET model = %(model)s, provider = %(provider)s,
    generation_id = coalesce(%(generation_id)s, attempts.generation_id),
    outcome = %(outcome)s,
    http_status = %(http_status)s, error_code = %(attempt_error_code)s,
    error_message = %(attempt_error_message)s, prompt_tokens = %(prompt_tokens)s,
    completion_tokens = %(completion_tokens)s, cost_usd = %(cost_usd)s,
    latency_ms = %(latency_ms)s, first_token_ms = %(first_token_ms)s,
    cached_tokens = %(cached_tokens)s, cache_write_tokens = %(cache_write_tokens)s,
    reasoning_tokens = %(reasoning_tokens)s, is_byok = %(is_byok)s,
    upstream_inference_cost = %(upstream_inference_cost)s,
    cost_source = %(cost_source)s, cost_note = %(cost_note)s
WHERE id = %(attempt_id)s
"""

# A streamed call's generation id, as soon as its first bytes carry it: a call
# whose worker dies afterwards can still be priced by OpenRouter's figure.
_NOTE_GENERATION_ID = """
UPDATE attempts SET generation_id = %(generation_id)s
WHERE id = %(attempt_id)s AND generation_id IS NULL
"""
# The attempt and the job's new state go in one statement: one round trip, atomic
# without a transaction block.
_WITH_ATTEMPT = f"WITH attempt AS ({_RECORD_ATTEMPT})"

# The job's cost, set when it ends: the sum of its attempts' (shared.cost).
_COST = LEDGER_COST_SQL
_HELD = "WHERE id = %(job_id)s AND claim_token = %(token)s AND status = 'running'"
# The routing decision (strategy, candidates, reason, model used) lands with the end.
_ROUTING = "routing = coalesce(CAST(%(routing)s AS jsonb), jobs.routing)"

_FINISH_SQL = f"""
UPDATE jobs SET status = 'succeeded', result = CAST(%(result)s AS jsonb),
    model = %(model)s, provider = %(provider)s, prompt_tokens = %(prompt_tokens)s,
    completion_tokens = %(completion_tokens)s, latency_ms = %(latency_ms)s,
    cost_usd = {_COST}, error_code = NULL, error_message = NULL,
    lease_expires_at = NULL, finished_at = now(), {_ROUTING}
{_HELD}"""

# A streamed answer that broke mid-way keeps what reached its client.
_FAIL_SQL = f"""
UPDATE jobs SET status = 'failed', error_code = %(code)s, error_message = %(message)s,
    result = coalesce(CAST(%(result)s AS jsonb), jobs.result),
    cost_usd = {_COST}, lease_expires_at = NULL, finished_at = now(), {_ROUTING}
{_HELD}"""

# The client of a streaming job left: the call was closed, and the job keeps what
# was generated until then, with its usage and cost.
_CANCEL_SQL = f"""
UPDATE jobs SET status = 'cancelled', result = CAST(%(result)s AS jsonb),
    error_code = %(code)s, error_message = %(message)s,
    model = %(model)s, provider = %(provider)s, prompt_tokens = %(prompt_tokens)s,
    completion_tokens = %(completion_tokens)s, latency_ms = %(latency_ms)s,
    cost_usd = {_COST}, lease_expires_at = NULL, finished_at = now(), {_ROUTING}
{_HELD}"""

_RELEASE_SQL = f"""
UPDATE jobs SET status = 'queued', claim_token = NULL, lease_expires_at = NULL,
    available_at = now() + make_interval(secs => %(delay_s)s), retries = retries + 1,
    error_code = %(code)s, error_message = %(message)s, {_ROUTING}
{_HELD}"""

# Between two candidate models the lease is renewed, so a job walking several
# slow candidates is not handed to a second worker meanwhile.
_RENEW_SQL = f"""
UPDATE jobs SET lease_expires_at = now() + make_interval(secs => %(lease_s)s)
{_HELD}"""

# A stopping worker hands the job back: its call in flight (if any) is cut off, and
# the job is due again at once, without counting a retry (the model did not fail).
# Both parts see the same snapshot, so the attempt changes only while the claim holds.
_INTERRUPT = f"""
WITH attempt AS (
    UPDATE attempts SET outcome = 'interrupted', error_code = %(code)s,
        error_message = %(message)s
    FROM jobs
    WHERE attempts.job_id = %(job_id)s AND attempts.outcome = 'started'
      AND jobs.id = attempts.job_id AND jobs.claim_token = %(token)s
      AND jobs.status = 'running'
)
UPDATE jobs SET status = 'queued', claim_token = NULL, lease_expires_at = NULL,
    available_at = now()
{_HELD}"""

_FINISH = f"{_WITH_ATTEMPT} {_FINISH_SQL}"
_FAIL = _FAIL_SQL
_FAIL_AFTER_CALL = f"{_WITH_ATTEMPT} {_FAIL_SQL}"
_CANCEL = f"{_WITH_ATTEMPT} {_CANCEL_SQL}"
_RELEASE = f"{_WITH_ATTEMPT} {_RELEASE_SQL}"
_RECORD_AND_RENEW = f"{_WITH_ATTEMPT} {_RENEW_SQL}"


# Capacity is short: back to the queue, no call made, so no retry is counted and
# no attempt written. A job that never ran forgets its start, so queue-wait
# figures stay honest.
_DEFER = f"""
UPDATE jobs SET status = 'queued', claim_token = NULL, lease_expires_at = NULL,
    available_at = now() + make_interval(secs => %(delay_s)s),
    started_at = CASE WHEN retries = 0 THEN NULL ELSE started_at END
{_HELD}"""


async def claim_jobs(
    conn: Connection, job_ids: Sequence[UUID], *, lease_s: float
) -> list[ClaimedJob]:
    """Take those of the jobs that are due (queued and available, or their lease
    expired), in one statement, each with a claim token of its own; in the order
    given. A job finished, not yet due or held by another worker is left out.
    Committed when this returns (autocommit)."""
    params = {"job_ids": list(job_ids), "lease_s": float(lease_s)}
    cursor = await conn.execute(_CLAIM, params, prepare=True)
    claimed = {row[0]: _claimed(row) for row in await cursor.fetchall()}
    return [claimed[job_id] for job_id in job_ids if job_id in claimed]


def _claimed(row: tuple[Any, ...]) -> ClaimedJob:
    job_id, token, request, route, retries, default_model, slug, webhook, *routing = row
    return ClaimedJob(
        id=job_id,
        claim_token=token,
        request=request,
        route=route,
        retries=retries,
        tenant_default_model=default_model,
        tenant_slug=slug,
        webhook_url=webhook,
        tenant_route_strategy=routing[0],
        tenant_fallback_strategy=routing[1],
        tenant_model_pool=routing[2],
        tenant_model_substitution=routing[3],
    )


async def begin_attempt(conn: Connection, job: ClaimedJob, call: Call) -> bool:
    """Write the `started` row of a call about to be made; False (and nothing
    written) when the claim was lost: the call must not be made."""
    cost = reserve_cost(call.reserve_usd)
    params = {
        "attempt_id": call.id,
        "job_id": job.id,
        "token": job.claim_token,
        "model": call.model,
        "started_at": call.started_at,
        "cost_usd": cost.usd,
        "cost_source": cost.source.value,
        "cost_note": cost.note,
    }
    return await _changed(conn, _BEGIN_ATTEMPT, params)


async def note_generation_id(
    conn: Connection, attempt_id: UUID, generation_id: str
) -> None:
    """Keep a call's generation id on its row while the call goes on."""
    params = {"attempt_id": attempt_id, "generation_id": generation_id}
    await conn.execute(_NOTE_GENERATION_ID, params, prepare=True)


async def record_attempt_and_renew(
    conn: Connection, job: ClaimedJob, attempt: AttemptRecord, *, lease_s: float
) -> bool:
    """Record one call's answer in the job's ledger and extend the lease by
    `lease_s`; False if the claim was lost (the answer is recorded anyway)."""
    params = {
        **_attempt_params(attempt),
        "token": job.claim_token,
        "lease_s": float(lease_s),
    }
    return await _changed(conn, _RECORD_AND_RENEW, params)


async def finish_job(
    conn: Connection,
    job: ClaimedJob,
    attempt: AttemptRecord,
    *,
    result_json: str,
    routing: str | None = None,
) -> Ended | None:
    """Record the successful attempt and mark the job succeeded with its result
    (JSON text) and routing decision, with its webhook event; None if the claim
    was lost (the attempt is recorded anyway)."""
    params = {**_attempt_params(attempt), "token": job.claim_token, "routing": routing}
    return await _end(conn, job, _FINISH, {**params, "result": result_json})


async def fail_job(
    conn: Connection,
    job: ClaimedJob,
    *,
    attempt: AttemptRecord | None,
    code: str,
    message: str,
    routing: str | None = None,
    result_json: str | None = None,
) -> Ended | None:
    """Record the failed attempt (if a call was made) and mark the job failed for
    good, with its webhook event and the partial result of a broken stream (if
    any); None if the claim was lost."""
    statement, params = (
        (_FAIL, {"job_id": job.id, "attempt_id": None, "cost_usd": None})
        if attempt is None
        else (_FAIL_AFTER_CALL, _attempt_params(attempt))
    )
    outcome = {
        "token": job.claim_token,
        "code": code,
        "message": _kept_text(message),
        "routing": routing,
        "result": result_json,
    }
    return await _end(conn, job, statement, {**params, **outcome})


async def cancel_job(
    conn: Connection,
    job: ClaimedJob,
    attempt: AttemptRecord,
    *,
    result_json: str,
    routing: str | None = None,
) -> Ended | None:
    """Record the call cut off when the client left and mark the job cancelled
    with the partial result, usage and cost, with its webhook event; None if the
    claim was lost."""
    params = {
        **_attempt_params(attempt),
        "token": job.claim_token,
        "code": attempt.error_code,
        "message": _kept_text(attempt.error_message),
        "routing": routing,
        "result": result_json,
    }
    return await _end(conn, job, _CANCEL, params)


async def release_job(
    conn: Connection,
    job: ClaimedJob,
    attempt: AttemptRecord,
    *,
    delay_s: float,
    routing: str | None = None,
) -> bool:
    """Record the failed attempt and put the job back in the queue for a retry in
    `delay_s`, counting the retry and keeping the error for the curious; False if
    the claim was lost."""
    params = {
        **_attempt_params(attempt),
        "token": job.claim_token,
        "delay_s": float(delay_s),
        "code": attempt.error_code,
        "message": _kept_text(attempt.error_message),
        "routing": routing,
    }
    return await _changed(conn, _RELEASE, params)


async def interrupt_job(
    conn: Connection, job: ClaimedJob, *, code: str, message: str
) -> bool:
    """Mark the job's call in flight `interrupted` (with `code` and `message`) and
    put the job back in the queue, due now, its retries unchanged; False (and
    nothing changed) if the claim was lost."""
    params = {
        "job_id": job.id,
        "token": job.claim_token,
        "code": code,
        "message": message,
    }
    return await _changed(conn, _INTERRUPT, params)


async def defer_job(conn: Connection, job: ClaimedJob, *, delay_s: float) -> bool:
    """Re-queue the job to be due in `delay_s`, keeping its retries; False if the
    claim was lost."""
    params = {"job_id": job.id, "token": job.claim_token, "delay_s": float(delay_s)}
    return await _changed(conn, _DEFER, params)


def _attempt_params(attempt: AttemptRecord) -> dict[str, Any]:
    details = attempt.details
    return {
        "attempt_id": attempt.id,
        "job_id": attempt.job_id,
        "model": attempt.model,
        "provider": attempt.provider,
        "generation_id": attempt.generation_id,
        "outcome": attempt.outcome.value,
        "http_status": attempt.http_status,
        "attempt_error_code": attempt.error_code,
        "attempt_error_message": _kept_text(attempt.error_message),
        "prompt_tokens": attempt.prompt_tokens,
        "completion_tokens": attempt.completion_tokens,
        "cost_usd": attempt.cost_usd,
        "latency_ms": attempt.latency_ms,
        "first_token_ms": attempt.first_token_ms,
        "cached_tokens": details.cached_tokens,
        "cache_write_tokens": details.cache_write_tokens,
        "reasoning_tokens": details.reasoning_tokens,
        "is_byok": details.is_byok,
        "upstream_inference_cost": details.upstream_inference_cost,
        "cost_source": attempt.cost_source.value,
        "cost_note": attempt.cost_note,
    }


def _kept_text(text: str | None) -> str | None:
    # Upstream text arrives redacted with the key it was sent with
    # (workers.openrouter.responses); error text from any source loses the known
    # secret shapes here, before a tenant can be shown it.
    return None if text is None else redact(text)


async def _end(
    conn: Connection, job: ClaimedJob, statement: str, params: dict[str, Any]
) -> Ended | None:
    if job.webhook_url is None:  # the common case stays one autocommitted statement
        return Ended() if await _changed(conn, statement, params) else None
    # The end and its outbox row commit together: no event without the end, and
    # none lost. A lost claim commits the attempt alone.
    async with conn.transaction():
        cursor = await conn.execute(
            statement + ENDED_JOB_RETURNING, params, prepare=True
        )
        row = await cursor.fetchone()
        if row is None:
            return None
        ended = EndedJob(job.id, *row)
        delivery_id = await record_job_event(conn, ended, url=job.webhook_url)
    return Ended(delivery_id)


async def _changed(conn: Connection, statement: str, params: dict[str, Any]) -> bool:
    cursor = await conn.execute(statement, params, prepare=True)
    return cursor.rowcount > 0
