"""Re-send jobs whose message may be lost: `queued` too long while their tenant's
queue is empty (or for many stale periods), or `running` with an expired lease (its
worker died). Re-sending is safe: the claim decides who works. Calls left
`started` by a dead worker are marked `interrupted` on the way."""

import logging

import redis
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.queue_depth import waiting_messages_blocking
from shared.queues import tenant_queue
from workers.jobs import periodic_transitions
from workers.runtime.job_sender import JobSender

logger = logging.getLogger(__name__)

# A job queued this many stale periods is re-sent even while its tenant's queue
# holds messages (workers.jobs.periodic_transitions says why).
OVERDUE_STALE_PERIODS = 10

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


def requeue_stale_jobs(
    sessions: sessionmaker[Session],
    sender: JobSender,
    redis_client: redis.Redis,
    *,
    queued_stale_s: float,
    lease_s: float,
    batch: int,
) -> int:
    """Re-send stale jobs to their tenant queues, after the commit; how many."""
    with sessions() as session:
        slugs = periodic_transitions.tenants_with_stale_jobs(
            session, queued_stale_s=queued_stale_s
        )
    waiting = waiting_messages_blocking(redis_client, slugs)
    with sessions.begin() as session:
        stale = periodic_transitions.take_stale_jobs(
            session,
            queued_stale_s=queued_stale_s,
            overdue_s=queued_stale_s * OVERDUE_STALE_PERIODS,
            quiet=[slug for slug in slugs if waiting[slug] == 0],
            batch=batch,
        )
        session.execute(_MARK_INTERRUPTED, {"lease_s": lease_s, **_INTERRUPTED})
    for job_id, slug in stale:
        sender.send(job_id, tenant_queue(slug))
        logger.debug("job %s: re-sent to %s", job_id, tenant_queue(slug))
    if stale:
        logger.info("re-sent %d stale jobs", len(stale))
    return len(stale)
