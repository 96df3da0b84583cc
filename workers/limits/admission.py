"""The completion loop's side of the limits: admit a claimed job, or defer it."""

from workers.context import WorkerContext
from workers.jobs_store import ClaimedJob
from workers.limits.deferral import defer_job
from workers.limits.gate import Verdict
from workers.routing import candidate_models


async def admit(ctx: WorkerContext, job: ClaimedJob) -> Verdict:
    """Hold what the job's first call needs (workers.limits.gate)."""
    first = candidate_models(
        job.request,
        tenant_default=job.tenant_default_model,
        default_model=ctx.settings.openrouter_default_model,
    )[0]
    return await ctx.limits.admit(job.id, job.tenant_slug, job.request, first)


async def defer(ctx: WorkerContext, job: ClaimedJob, delay_s: float) -> bool:
    """Re-queue the job for `delay_s` without counting a retry; False if the
    claim was lost meanwhile."""
    async with ctx.db.connection() as conn:
        return await defer_job(conn, job.id, job.claim_token, delay_s=delay_s)
