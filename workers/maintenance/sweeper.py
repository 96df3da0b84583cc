"""Re-send jobs whose message may be lost: `queued` too long, or `running` with an
expired lease (its worker died). Re-sending is safe: the claim decides who works.
Calls left `started` by a dead worker are marked `interrupted` on the way."""

import logging
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.queues import tenant_queue
from workers.runtime.job_sender import JobSender

logger = logging.getLogger(__name__)

# Expired leases go back to `queued` (a stale worker's writes are refused by the
# claim token anyway), and re-sent jobs get a fresh `available_at`, so one job is
# re-sent at most once per stale period however often the sweep runs.
_TAKE_STALE = text("""
WITH stale AS (
    SELECT id FROM jobs
    WHERE (status = 'queued' AND available_at < now() - make_interval(secs => :stale_s))
       OR (status = 'running' AND lease_expires_at < now())
    ORDER BY available_at
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs SET status = 'queued', claim_token = NULL, lease_expires_at = NULL,
    available_at = now()
FROM stale, tenants
WHERE jobs.id = stale.id AND tenants.id = jobs.tenant_id
RETURNING jobs.id, tenants.slug
""")


# A call lasts at most OPENROUTER_TIMEOUT, which the lease exceeds: a call started
# longer ago than the lease whose answer is still missing lost its worker. A late
# answer still lands (it is written onto the row by id, whatever the outcome).
_MARK_INTERRUPTED = text("""
UPDATE attempts
SET outcome = 'interrupted', error_code = :code, error_message = :message
WHERE outcome = 'started' AND started_at < now() - make_interval(secs => :lease_s)
""")

_INTERRUPTED = {
    "code": "worker_lost",
    "message": "the worker stopped before this call's answer was recorded; "
    "OpenRouter may have answered it and billed it",
}


def take_stale_jobs(
    session: Session, *, queued_stale_s: float, batch: int
) -> list[tuple[UUID, str]]:
    """Mark up to `batch` stale jobs as freshly queued; (job id, tenant slug) each."""
    rows = session.execute(_TAKE_STALE, {"stale_s": queued_stale_s, "batch": batch})
    return [(row.id, row.slug) for row in rows]


def requeue_stale_jobs(
    sessions: sessionmaker[Session],
    sender: JobSender,
    *,
    queued_stale_s: float,
    lease_s: float,
    batch: int,
) -> int:
    """Re-send stale jobs to their tenant queues, after the commit; how many."""
    with sessions.begin() as session:
        stale = take_stale_jobs(session, queued_stale_s=queued_stale_s, batch=batch)
        session.execute(_MARK_INTERRUPTED, {"lease_s": lease_s, **_INTERRUPTED})
    for job_id, slug in stale:
        sender.send(job_id, tenant_queue(slug))
        logger.debug("job %s: re-sent to %s", job_id, tenant_queue(slug))
    if stale:
        logger.info("re-sent %d stale jobs", len(stale))
    return len(stale)
