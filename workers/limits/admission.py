"""The completion loop's side of the limits: admit a claimed job, or defer it."""

from workers.jobs import transitions
from workers.jobs.records import ClaimedJob
from workers.limits.gate import Verdict
from workers.runtime.context import WorkerContext


async def admit(ctx: WorkerContext, job: ClaimedJob, first_model: str) -> Verdict:
    """Hold what the job's first call (to `first_model`) needs (workers.limits.gate)."""
    return await ctx.limits.admit(job.id, job.tenant_slug, job.request, first_model)


async def defer(ctx: WorkerContext, job: ClaimedJob, delay_s: float) -> bool:
    """Re-queue the job for `delay_s` without counting a retry; False if the
    claim was lost meanwhile."""
    async with ctx.db.connection() as conn:
        return await transitions.defer_job(conn, job, delay_s=delay_s)
