"""Cancelling a batch: queued items at once, then `cancelling` until the running
ones end, or `cancelled` at once when none runs.

With an object store configured the API ends no batch: writing the result files
means uploading them, whose client blocks, and `run_sync` would run it on the event
loop. A batch with nothing left to run then stays as it is (`cancelling`, or as it
was when every item had ended) and the `finish_batches` sweep ends it.
"""

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.batches import queries
from broker_api.batches.views import BatchView, batch_view
from broker_api.deps import Caller
from shared.batch_endings import (
    count_items,
    end_batch,
    end_cancelled_batch,
    ending_status,
)
from shared.db.models import Batch
from shared.errors import BatchNotCancellable, BatchNotFound, NothingLeftToCancel
from shared.jobs import BatchStatus
from shared.object_store import ObjectStore


async def cancel_batch(
    session: AsyncSession,
    caller: Caller,
    batch_id: UUID,
    objects: ObjectStore | None,
) -> BatchView:
    """Queued items are cancelled at once; running items finish with their results.

    Raises BatchNotCancellable once the batch has ended, and NothingLeftToCancel
    when every item had ended before the sweep noticed: the batch then ends here,
    exactly as the sweep would have ended it (by the sweep itself when `objects`
    is given; the error names the status it ends with either way).
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
        if not items.is_finished:
            return await _cancel(session, batch, now=now, objects=objects)
        if objects is None:
            await session.run_sync(lambda sync: end_batch(sync, batch, items, now=now))
    ended_as = ending_status(batch, items).value
    raise NothingLeftToCancel(batch_id, ended_as)  # after the commit


async def _cancel(
    session: AsyncSession,
    batch: Batch,
    *,
    now: datetime,
    objects: ObjectStore | None,
) -> BatchView:
    """`cancelling` while items still run, or until the sweep ends it (with an
    object store); `cancelled` at once when none runs."""
    await queries.cancel_queued_items(session, batch.id)
    batch.cancelling_at = now
    items = await session.run_sync(lambda sync: count_items(sync, batch.id))
    if items.is_finished and objects is None:
        await session.run_sync(
            lambda sync: end_cancelled_batch(sync, batch, items, now=now)
        )
    else:
        batch.status = BatchStatus.CANCELLING.value
    counts = await queries.count_by_status(session, batch.id)
    return batch_view(batch, counts)
