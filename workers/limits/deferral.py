"""Putting a claimed job back in the queue because capacity is short: no call was
made, so no retry is counted and no attempt is written."""

from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

# Guarded by the claim token like every write after a claim (workers.jobs.transitions).
# A job that never ran forgets its start, so queue-wait figures stay honest.
_DEFER = """
UPDATE jobs SET status = 'queued', claim_token = NULL, lease_expires_at = NULL,
    available_at = now() + make_interval(secs => %(delay_s)s),
    started_at = CASE WHEN retries = 0 THEN NULL ELSE started_at END
WHERE id = %(job_id)s AND claim_token = %(token)s AND status = 'running'
"""


async def defer_job(
    conn: AsyncConnection[TupleRow], job_id: UUID, claim_token: UUID, *, delay_s: float
) -> bool:
    """Re-queue the job to be due in `delay_s`, keeping its retries; False if the
    claim was lost."""
    params = {"job_id": job_id, "token": claim_token, "delay_s": float(delay_s)}
    cursor = await conn.execute(_DEFER, params, prepare=True)
    return cursor.rowcount > 0
