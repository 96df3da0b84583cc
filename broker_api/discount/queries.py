"""SQL for the Batch API callback. Query functions never commit."""

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.upstream_batches import UpstreamBatch


async def poll_now(session: AsyncSession, upstream_id: str) -> bool:
    """Make the upstream batch due for a poll now; False when none is waiting."""
    result = await session.execute(
        update(UpstreamBatch)
        .where(
            UpstreamBatch.upstream_id == upstream_id,
            UpstreamBatch.results_stored_at.is_(None),
        )
        .values(next_poll_at=func.now())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]  # an UPDATE's result
