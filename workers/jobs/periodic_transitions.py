"""The statements the periodic tasks run that change a job's status: re-queue stale
jobs, expire overdue ones and a closed batch's queued items, and the discount lane's
moves (back to realtime; a Batch API result line recorded and, for a success, the
job ended). Each takes a SQLAlchemy session, inside the task's transaction, and is
guarded by the status it leaves (shared.jobs draws them). The job's own path is in
workers.jobs.transitions.
"""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import func, text, update
from sqlalchemy.orm import Session

from shared.db.models import Job
from shared.jobs import JobStatus

# Expired leases go back to `queued` (a stale worker's writes are refused by the
# claim token anyway), and re-sent jobs get a fresh `available_at`, so one job is
# re-sent at most once per stale period however often the sweep runs. A queued job
# is re-sent only when its tenant's queue holds no message (`quiet`): a backlog
# that drains slower than the stale period still has its messages, and re-sending
# them would copy the backlog into Redis at every period. A job queued past
# `overdue_s` is re-sent even so: a message lost while the tenant's queue never
# empties (a failed publish, a failover) waits that long at most. A queued
# discount-lane job waits for OpenRouter's Batch API, not for a message.
_TAKE_STALE = text("""
WITH stale AS (
    SELECT jobs.id FROM jobs JOIN tenants ON tenants.id = jobs.tenant_id
    WHERE (jobs.status = 'queued' AND jobs.lane = 'realtime'
           AND jobs.available_at < now() - make_interval(secs => :stale_s)
           AND (tenants.slug = ANY(:quiet)
                OR jobs.available_at < now() - make_interval(secs => :overdue_s)))
       OR (jobs.status = 'running' AND jobs.lease_expires_at < now())
    ORDER BY jobs.available_at
    LIMIT :batch
    FOR UPDATE OF jobs SKIP LOCKED
)
UPDATE jobs SET status = 'queued', claim_token = NULL, lease_expires_at = NULL,
    available_at = now()
FROM stale, tenants
WHERE jobs.id = stale.id AND tenants.id = jobs.tenant_id
RETURNING jobs.id, tenants.slug
""")

# Tenants with a realtime job queued past the stale period (their queues are read
# before any is re-sent).
_TENANTS_WITH_STALE = text("""
SELECT tenants.slug FROM tenants
WHERE EXISTS (
    SELECT 1 FROM jobs
    WHERE jobs.tenant_id = tenants.id AND jobs.status = 'queued'
      AND jobs.lane = 'realtime'
      AND jobs.available_at < now() - make_interval(secs => :stale_s))
""")

# Queued only: a running job past its deadline finishes and keeps its result.
_EXPIRE_OVERDUE_JOBS = text("""
UPDATE jobs SET status = 'expired', finished_at = now()
WHERE id IN (
    SELECT id FROM jobs
    WHERE status = 'queued' AND batch_id IS NULL AND deadline_at <= now()
    LIMIT :limit
    FOR UPDATE SKIP LOCKED)
  AND status = 'queued'
""")


def tenants_with_stale_jobs(session: Session, *, queued_stale_s: float) -> list[str]:
    """The slugs of the tenants with a realtime job queued past the stale period."""
    return list(session.scalars(_TENANTS_WITH_STALE, {"stale_s": queued_stale_s}))


def take_stale_jobs(
    session: Session,
    *,
    queued_stale_s: float,
    overdue_s: float,
    quiet: Sequence[str],
    batch: int,
) -> list[tuple[UUID, str]]:
    """Mark up to `batch` stale jobs as freshly queued: those queued past the stale
    period whose tenant's queue is `quiet` (empty) or past `overdue_s` whatever
    their queue holds, and those whose lease expired; (job id, tenant slug) each,
    to re-send after the commit."""
    rows = session.execute(
        _TAKE_STALE,
        {
            "stale_s": queued_stale_s,
            "overdue_s": overdue_s,
            "quiet": list(quiet),
            "batch": batch,
        },
    )
    return [(row.id, row.slug) for row in rows]


def expire_overdue_jobs(session: Session, *, limit: int) -> int:
    """Expire up to `limit` queued single jobs past their deadline; how many."""
    result = session.execute(_EXPIRE_OVERDUE_JOBS, {"limit": limit})
    return int(result.rowcount)  # type: ignore[attr-defined]  # an UPDATE's result


def expire_queued_batch_items(session: Session, batch_id: UUID) -> None:
    """Expire the batch's queued items (its window closed); running ones finish."""
    session.execute(
        update(Job)
        .where(Job.batch_id == batch_id, Job.status == JobStatus.QUEUED.value)
        .values(status=JobStatus.EXPIRED.value, finished_at=func.now())
    )


# A discount-lane line whose upstream batch will not answer it (refused, failed,
# expired, cancelled) runs realtime; its message is published after the commit.
# Past its deadline the batch sweep expires it instead, as any queued item.
_MOVE_TO_REALTIME = text("""
UPDATE jobs SET lane = 'realtime', available_at = now()
FROM tenants
WHERE jobs.upstream_batch_id = :upstream_batch_id AND jobs.lane = 'discount'
  AND jobs.status = 'queued' AND tenants.id = jobs.tenant_id
RETURNING jobs.id, tenants.slug
""")


def move_discount_jobs_to_realtime(
    session: Session, upstream_batch_id: UUID
) -> list[tuple[UUID, str]]:
    """Move the upstream batch's still-waiting lines to the realtime lane;
    (job id, tenant slug) each, to publish after the commit."""
    rows = session.execute(_MOVE_TO_REALTIME, {"upstream_batch_id": upstream_batch_id})
    return [(row.id, row.slug) for row in rows]


# A waiting discount-lane line that cannot be sent (its tenant's routing is corrupt,
# its budget cannot take it) fails as a realtime line refused before its call.
_FAIL_WAITING = text("""
UPDATE jobs SET status = 'failed', error_code = :code, error_message = :message,
    finished_at = now()
WHERE id = ANY(:job_ids) AND status = 'queued' AND lane = 'discount'
  AND upstream_batch_id IS NULL
""")


def fail_waiting_discount_jobs(
    session: Session, job_ids: list[UUID], *, code: str, message: str
) -> int:
    """Fail discount-lane lines not yet in an upstream batch; how many."""
    params = {"job_ids": job_ids, "code": code, "message": message}
    result = session.execute(_FAIL_WAITING, params)
    return int(result.rowcount)  # type: ignore[attr-defined]  # an UPDATE's result


# A Batch API result line is an attempt like any call, on the discount lane, kept
# even when its job ended meanwhile (cancelled or expired): the line was billed.
# Its cost is the upstream batch's, apportioned by line; a line with none says so.
_RECORD_DISCOUNT_ATTEMPT = text("""
INSERT INTO attempts (id, job_id, number, model, provider, generation_id, lane,
    upstream_batch_id, outcome, http_status, error_code, error_message,
    prompt_tokens, completion_tokens, cost_usd, latency_ms, started_at,
    cost_source, cost_note)
SELECT gen_random_uuid(), jobs.id,
    (SELECT coalesce(max(number), 0) + 1 FROM attempts WHERE job_id = jobs.id),
    :model, :provider, :generation_id, 'discount', :upstream_batch_id, :outcome,
    :http_status, :error_code, :error_message, :prompt_tokens, :completion_tokens,
    :cost_usd, :latency_ms, :started_at,
    CASE WHEN CAST(:cost_usd AS numeric) IS NULL THEN 'unknown' ELSE 'reported' END,
    CASE WHEN CAST(:cost_usd AS numeric) IS NULL
         THEN 'the upstream batch reported no cost for this line' END
FROM jobs WHERE jobs.id = :job_id AND jobs.upstream_batch_id = :upstream_batch_id
""")

# Ends the job exactly as a realtime answer would: result, usage, and its cost the
# sum of its attempts'. Only a line still waiting for this upstream batch ends.
_FINISH_DISCOUNT_JOB = text("""
UPDATE jobs SET status = 'succeeded', result = CAST(:result AS jsonb),
    model = :model, provider = :provider, prompt_tokens = :prompt_tokens,
    completion_tokens = :completion_tokens, latency_ms = :latency_ms,
    cost_usd = (SELECT sum(cost_usd) FROM attempts WHERE job_id = jobs.id),
    error_code = NULL, error_message = NULL,
    started_at = coalesce(started_at, :started_at), finished_at = now()
WHERE id = :job_id AND status = 'queued' AND lane = 'discount'
  AND upstream_batch_id = :upstream_batch_id
""")


def record_discount_result(
    session: Session, values: dict[str, Any], *, result_json: str | None
) -> bool:
    """Record one result line of an upstream batch as an attempt and, for a
    success, end its job `succeeded`; True when the job ended here. `values` holds
    the attempt's columns plus `job_id` and `upstream_batch_id`."""
    session.execute(_RECORD_DISCOUNT_ATTEMPT, values)
    if result_json is None:
        return False
    ended = session.execute(_FINISH_DISCOUNT_JOB, {**values, "result": result_json})
    return int(ended.rowcount) > 0  # type: ignore[attr-defined]  # an UPDATE's result
