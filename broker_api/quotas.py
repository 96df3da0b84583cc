"""A tenant's submit quotas, checked before a submission is accepted.

- budget of the period already spent: 402 `budget_exceeded` (the worker refuses a job
  the remaining budget cannot cover: shared.budget);
- max queued jobs reached: 429 `queue_full`;
- submit rate: a Redis token bucket per tenant, shared by every API process:
  429 `rate_limited` with `Retry-After`.
A batch counts as one submission against the rate and must find room for one
more queued job; the worker-side limits bound what its items then do.
"""

import logging
import math
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, Request
from pydantic import ValidationError
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker_api.deps import Caller, CallerDep
from shared import budget
from shared.budget_periods import period_of
from shared.errors import BudgetExceeded, QueueFull, SubmitRateLimited
from shared.rate_limits import BucketSpec, TenantLimits, tenant_limits
from shared.redis_keys import limit_factor, tenant_submit_bucket
from shared.token_bucket import TAKE_SCRIPT, take_call

logger = logging.getLogger(__name__)

_QUEUED = text("SELECT count(*) FROM jobs WHERE tenant_id = :id AND status = 'queued'")
# A full queue drains at the workers' pace: a hint, not a promise.
QUEUE_FULL_RETRY_AFTER_S = 5


def limits_of(caller: Caller) -> TenantLimits:
    """The caller's limits; a row edited by hand into nonsense means none."""
    try:
        return tenant_limits(caller.limits)
    except ValidationError:
        logger.warning("tenant %s: unreadable limits ignored", caller.slug)
        return TenantLimits()


async def count_queued(session: AsyncSession, caller: Caller) -> int:
    """The tenant's queued jobs (ix_jobs_tenant_queued); ends the read."""
    queued = (await session.execute(_QUEUED, {"id": caller.tenant_id})).scalar_one()
    await session.rollback()  # the route opens its own transaction
    return int(queued)


async def enforce_submit_quotas(request: Request, caller: CallerDep) -> None:
    """Refuse a submission over the tenant's budget, queue or submit rate."""
    state = request.app.state
    await check_submit_quotas(state.redis, state.sessions, caller)


async def check_submit_quotas(
    redis: Redis, sessions: async_sessionmaker[AsyncSession], caller: Caller
) -> None:
    """Refuse a submission over the tenant's budget, queue or submit rate.

    A tenant without a budget or a queue cap costs no database session here."""
    limits = limits_of(caller)
    if limits.monthly_budget_usd is not None or limits.max_queued is not None:
        async with sessions() as session:
            await _check_budget_and_queue(redis, session, caller, limits)
    await _take_submit_token(redis, caller.slug, limits)


async def _check_budget_and_queue(
    redis: Redis, session: AsyncSession, caller: Caller, limits: TenantLimits
) -> None:
    if limits.monthly_budget_usd is not None:
        period = period_of(datetime.now(UTC), limits.period)
        spent, _ = await budget.spent_usd(redis, session, caller.slug, month=period)
        if spent >= limits.monthly_budget_usd:
            raise BudgetExceeded(
                str(limits.monthly_budget_usd), str(spent), period=limits.period
            )
    max_queued = limits.max_queued
    if max_queued is not None and await count_queued(session, caller) >= max_queued:
        raise QueueFull(max_queued, QUEUE_FULL_RETRY_AFTER_S)


async def _take_submit_token(redis: Redis, slug: str, limits: TenantLimits) -> None:
    rate = limits.submit_rate
    if rate is None:
        return
    key = tenant_submit_bucket(slug)
    # Horizon 0: the API answers at once, never sleeps on a client's behalf.
    call = take_call(
        [(key, BucketSpec("submit", rate, 1.0), False)],
        cool_down_keys=[],
        factor_key=limit_factor(f"tenant:{slug}:submit"),  # unused: not adaptive
        horizon_s=0.0,
    )
    result: Any = await redis.eval(TAKE_SCRIPT, len(call.keys), *call.keys, *call.args)
    granted, wait_ms, _ = result
    if not int(granted):
        raise SubmitRateLimited(rate.per_s, max(1, math.ceil(float(wait_ms) / 1000)))


SubmitQuotaDep = Depends(enforce_submit_quotas)
