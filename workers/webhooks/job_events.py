"""A finished job's webhook event, written by the hot path in the transaction that
finishes the job: the async twin of shared.webhooks.outbox.record_job_event.

The event and its row's columns come from shared.webhooks.outbox (one way to build
a payload); only the I/O differs. The destination was resolved by the claim
(workers.jobs.transitions), so here a disabled endpoint is the only reason to skip.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from shared.webhooks.outbox import job_event

# Appended to a finishing UPDATE of `jobs`: what the event needs, in `EndedJob` order.
ENDED_JOB_RETURNING = """
RETURNING jobs.tenant_id, jobs.status, jobs.custom_id, jobs.model, jobs.cost_usd,
    jobs.error_code, jobs.error_message, jobs.batch_id, jobs.finished_at"""

# Skips an endpoint that answered 410 Gone, as shared.webhooks.outbox.is_disabled.
_INSERT_DELIVERY = """
INSERT INTO webhook_deliveries (id, tenant_id, event_type, resource_id, url, payload,
    status, attempts_log, next_attempt_at)
SELECT %(id)s, %(tenant_id)s, %(event_type)s, %(resource_id)s, %(url)s, %(payload)s,
    %(status)s, %(attempts_log)s, now()
WHERE NOT EXISTS (
    SELECT 1 FROM webhook_endpoints
    WHERE tenant_id = %(tenant_id)s AND url = %(url)s AND disabled_at IS NOT NULL)
"""


@dataclass(frozen=True, slots=True)
class EndedJob:
    """A job as its finishing statement left it (shared.webhooks.events.JobFacts)."""

    id: UUID
    tenant_id: UUID
    status: str
    custom_id: str | None
    model: str | None
    cost_usd: Decimal | None
    error_code: str | None
    error_message: str | None
    batch_id: UUID | None
    finished_at: datetime | None


async def record_job_event(
    conn: AsyncConnection[TupleRow], job: EndedJob, *, url: str
) -> UUID | None:
    """Add the job's pending delivery to `url`; None if the job did not end in an
    announced state or the endpoint is disabled. Call inside the finishing
    transaction, and send the delivery after the commit."""
    event = job_event(job, now=datetime.now(UTC))
    if event is None:
        return None
    delivery_id = uuid4()
    params: dict[str, Any] = {**event.pending_delivery(url), "id": delivery_id}
    params["payload"] = Jsonb(params["payload"])
    params["attempts_log"] = Jsonb(params["attempts_log"])
    cursor = await conn.execute(_INSERT_DELIVERY, params, prepare=True)
    return delivery_id if cursor.rowcount > 0 else None
