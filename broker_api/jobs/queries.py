"""SQL for jobs, scoped by tenant. Query functions never commit."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.models import Attempt, Job


async def find_job(session: AsyncSession, tenant_id: UUID, job_id: UUID) -> Job | None:
    """The job if it belongs to the tenant; another tenant's job is simply absent."""
    return await session.scalar(
        select(Job).where(Job.id == job_id, Job.tenant_id == tenant_id)
    )


async def list_attempts(session: AsyncSession, job_id: UUID) -> Sequence[Attempt]:
    result = await session.scalars(
        select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.number)
    )
    return result.all()
