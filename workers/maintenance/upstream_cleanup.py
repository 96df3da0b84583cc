"""Cancel and delete the discount lane's upstream batches (with each poll pass).

- **Cancel.** When a helixq batch is cancelled, its lines not yet ended are
  cancelled at once by the API; each of its upstream batches still running is then
  asked to stop (`POST /batches/{id}/cancel`). OpenRouter enables that route per
  organisation (403 elsewhere) and some of its deployments lack it (404): either
  answer is recorded and the batch is followed as before. Whatever it still
  returns is recorded as attempts (it was billed) without changing the cancelled
  jobs (workers.maintenance.upstream_polling).
- **Delete.** Once its results are stored, an upstream batch is deleted upstream
  (HELIXQ_DISCOUNT_DELETE_STORED, default on): OpenRouter otherwise keeps its
  requests and results for 30 days. Billing records stay at OpenRouter.

The calls go out with no transaction open; the row is updated after, so a lost
answer is simply asked again on the next pass (both calls are safe to repeat).
"""

import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, update

from shared.db.models import Batch
from shared.db.upstream_batches import UpstreamBatch
from workers.maintenance.discount_lane import TERMINAL, DiscountDeps
from workers.openrouter.batches import BatchApi
from workers.openrouter.errors import UpstreamError

logger = logging.getLogger(__name__)

CLEANUP_LIMIT = 100
CANCEL_REFUSED = {403: "cancel not enabled upstream", 404: "no cancel route upstream"}


def cancel_upstream_batches(deps: DiscountDeps) -> int:
    """Ask upstream to stop the running upstream batches of cancelled helixq
    batches; how many were asked."""
    with deps.sessions.begin() as session:
        rows = session.execute(
            select(UpstreamBatch.id, UpstreamBatch.upstream_id, UpstreamBatch.tenant_id)
            .join(Batch, Batch.id == UpstreamBatch.batch_id)
            .where(
                Batch.cancelling_at.is_not(None),
                UpstreamBatch.upstream_id.is_not(None),
                UpstreamBatch.results_stored_at.is_(None),
                UpstreamBatch.cancel_sent_at.is_(None),
            )
            .limit(CLEANUP_LIMIT)
        ).all()
    return sum(_cancel(deps, row) for row in rows)


def _api(deps: DiscountDeps, tenant_id: UUID) -> BatchApi:
    """The Batch API on the key the upstream batch was sent with."""
    with deps.sessions() as session:
        return deps.api_of(session, tenant_id)


def _cancel(deps: DiscountDeps, row: Any) -> int:
    row_id, upstream_id = row.id, str(row.upstream_id)
    try:
        status = _api(deps, row.tenant_id).cancel(upstream_id)
    except UpstreamError as error:
        logger.warning("upstream batch %s: cancel: %s", upstream_id, error.code)
        return 0
    values: dict[str, object] = {"cancel_sent_at": datetime.now(UTC)}
    if status in CANCEL_REFUSED:
        values["error"] = f"{status}: {CANCEL_REFUSED[status]}; followed to its end"
    # Polled at once: a batch that ended before the cancel is stored sooner.
    values["next_poll_at"] = datetime.now(UTC)
    with deps.sessions.begin() as session:
        session.execute(
            update(UpstreamBatch).where(UpstreamBatch.id == row_id).values(**values)
        )
    logger.info("upstream batch %s: cancel asked (%d)", upstream_id, status)
    return 1


def delete_stored_upstream_batches(deps: DiscountDeps) -> int:
    """Delete upstream the ended batches whose results are stored; how many."""
    if not deps.config.delete_stored:
        return 0
    with deps.sessions.begin() as session:
        rows = session.execute(
            select(UpstreamBatch.id, UpstreamBatch.upstream_id, UpstreamBatch.tenant_id)
            .where(
                UpstreamBatch.upstream_id.is_not(None),
                UpstreamBatch.results_stored_at.is_not(None),
                UpstreamBatch.deleted_at.is_(None),
                UpstreamBatch.status.in_(TERMINAL),
            )
            .limit(CLEANUP_LIMIT)
        ).all()
    return sum(_delete(deps, row) for row in rows)


def _delete(deps: DiscountDeps, row: Any) -> int:
    row_id, upstream_id = row.id, str(row.upstream_id)
    try:
        status = _api(deps, row.tenant_id).delete(upstream_id)
    except UpstreamError as error:
        logger.warning("upstream batch %s: delete: %s", upstream_id, error.code)
        return 0
    if status == 409:  # not ended upstream yet: asked again on a later pass
        return 0
    with deps.sessions.begin() as session:
        session.execute(
            update(UpstreamBatch)
            .where(UpstreamBatch.id == row_id)
            .values(deleted_at=datetime.now(UTC))
        )
    return 1
