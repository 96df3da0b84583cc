"""Cancelling a batch: queued items at once, then `cancelling` until the running
ones end, or `cancelled` at once when none runs."""

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.batches import queries
from broker_api.batches.views import BatchView, batch_view
from broker_api.deps import Caller
from shared.batch_endings import count_items, end_batch, end_cancelled_batch
from shared.db.models import Batch
from shared.errors import BatchNotCancellable, BatchNotFound, NothingLeftToCancel
from shared.jobs import BatchStatus


async def cancel_batch(
    session: AsyncSession, caller: Caller, batch_id: UUID
) -> BatchView:
    """Queued items are cancelled at once; running ones finish with their results.

    Raises BatchNotCancellable once the batch has ended, and NothingLeftToCancel
    when every item had ended before the sweep noticed: the batch then ends here,
    exactly as the sweep would have ended it.
    """
    async with session.begin():
        batch = await queries.find_batch(
            session, caller.tenant_id, batch_id, for_update=True
        )
        if batch is None:
            raise BatchNotFound(batch_id)
        status = BatchStatus(batch.status)
        if status.is_terminal or status is BatchStatus.CANCELLING:
            raise BatchNotCancellable(batch_id, batch.status)
        now = datetime.now(UTC)
        items = await session.run_sync(lambda sync: count_items(sync, batch_id))
        if items.is_finished:
            await session.run_sync(lambda sync: end_batch(sync, batch, items, now=now))
        else:
            return await _cancel(session, batch, now=now)
    raise NothingLeftToCancel(batch_id, batch.status)  # after the commit


async def _cancel(session: AsyncSession, batch: Batch, *, now: datetime) -> BatchView:
    """`cancelling` while items still run; `cancelled` at once when none does."""
    await queries.cancel_queued_items(session, batch.id)
    batch.cancelling_at = now
    items = await session.run_sync(lambda sync: count_items(sync, batch.id))
    if items.is_finished:
        await session.run_sync(
            lambda sync: end_cancelled_batch(sync, batch, items, now=now)
        )
    else:
        batch.status = BatchStatus.CANCELLING.value
    counts = await queries.count_by_status(session, batch.id)
    return batch_view(batch, counts)
