"""SQL for batches, scoped by tenant. Query functions never commit."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.base import Base
from shared.db.models import Batch, Job
from shared.db.upstream_batches import UpstreamBatch
from shared.jobs import JobStatus
from shared.lanes import Lane

INSERT_CHUNK = 1000
JOBS = Base.metadata.tables["jobs"]  # Core insert: column names, no unit of work


async def find_batch(
    session: AsyncSession, tenant_id: UUID, batch_id: UUID, *, for_update: bool = False
) -> Batch | None:
    query = select(Batch).where(Batch.id == batch_id, Batch.tenant_id == tenant_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def count_by_status(session: AsyncSession, batch_id: UUID) -> dict[str, int]:
    rows = await session.execute(
        select(Job.status, func.count())
        .where(Job.batch_id == batch_id)
        .group_by(Job.status)
    )
    return {str(row[0]): int(row[1]) for row in rows}


async def upstream_batches(
    session: AsyncSession, batch_id: UUID
) -> Sequence[UpstreamBatch]:
    """The batch's upstream batches, in the order they were written."""
    rows = await session.scalars(
        select(UpstreamBatch)
        .where(UpstreamBatch.batch_id == batch_id)
        .order_by(UpstreamBatch.created_at, UpstreamBatch.id)
    )
    return rows.all()


async def start_custom_ids(session: AsyncSession) -> None:
    """A table for the custom_ids of the batch being written, gone at the end of
    the transaction: their uniqueness is checked in Postgres, so the API's memory
    does not grow with the batch."""
    await session.execute(
        text(
            "CREATE TEMPORARY TABLE batch_custom_ids"
            " (custom_id text PRIMARY KEY, line integer NOT NULL) ON COMMIT DROP"
        )
    )


async def first_lines(session: AsyncSession, lines: list[tuple[str, int]]) -> set[int]:
    """Record `(custom_id, line)` pairs; the lines whose custom_id no earlier line
    of the batch had (the first of repeats within `lines` too)."""
    result = await session.execute(
        text(
            "INSERT INTO batch_custom_ids (custom_id, line)"
            " SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:lines AS integer[]))"
            " ON CONFLICT DO NOTHING RETURNING line"
        ),
        {"ids": [pair[0] for pair in lines], "lines": [pair[1] for pair in lines]},
    )
    return set(result.scalars())


async def realtime_job_ids(
    session: AsyncSession, batch_id: UUID, *, after: UUID | None, limit: int
) -> list[UUID]:
    """A page of the batch's realtime-lane jobs, by id after `after`."""
    query = select(Job.id).where(
        Job.batch_id == batch_id, Job.lane == Lane.REALTIME.value
    )
    if after is not None:
        query = query.where(Job.id > after)
    result = await session.scalars(query.order_by(Job.id).limit(limit))
    return list(result.all())


async def insert_jobs(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Many rows per statement (SQLAlchemy's insertmanyvalues), no RETURNING."""
    await session.execute(insert(JOBS), rows)


async def list_batches(
    session: AsyncSession, tenant_id: UUID, *, limit: int, after: UUID | None
) -> Sequence[Batch]:
    """Newest first; `after` is the last id of the previous page."""
    query = select(Batch).where(Batch.tenant_id == tenant_id)
    if after is not None:
        cursor = (
            select(Batch.created_at, Batch.id)
            .where(Batch.id == after, Batch.tenant_id == tenant_id)
            .subquery()
        )
        query = query.where(
            tuple_(Batch.created_at, Batch.id)
            < tuple_(select(cursor.c.created_at).scalar_subquery(), after)
        )
    query = query.order_by(Batch.created_at.desc(), Batch.id.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def cancel_queued_items(session: AsyncSession, batch_id: UUID) -> int:
    """Queued items are cancelled; running ones are left to finish."""
    result = await session.execute(
        update(Job)
        .where(Job.batch_id == batch_id, Job.status == JobStatus.QUEUED.value)
        .values(status=JobStatus.CANCELLED.value, finished_at=func.now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def result_rows_query(batch_id: UUID) -> Any:
    return (
        select(
            Job.id,
            Job.custom_id,
            Job.status,
            Job.result,
            Job.error_code,
            Job.error_message,
            Job.model,
            Job.cost_usd,
            Job.latency_ms,
        )
        .where(Job.batch_id == batch_id)
        .order_by(Job.created_at, Job.id)
        .execution_options(yield_per=500)
    )
