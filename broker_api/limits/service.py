"""What a tenant may do and how much of it is used: `GET /v1/limits` and the
admin view of the same."""

from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.deps import Caller
from broker_api.quotas import count_queued, limits_of
from shared import budget
from shared.budget_periods import period_of
from shared.rate_limits import Rate, ScopeLimit, TenantLimits, parse_limits
from shared.redis_keys import tenant_running


class RateView(BaseModel):
    per_minute: float
    burst: float


class ScopeView(BaseModel):
    requests: RateView | None = None
    tokens: RateView | None = None


class UsageView(BaseModel):
    month: str  # the budget period's label: 2026-12, 2026-W49 or 2026-12-06
    spent_usd: Decimal
    reserved_usd: Decimal
    queued: int
    running: int


class LimitsView(BaseModel):
    tenant: str
    # The tenant's own quotas and buckets (null: unlimited).
    limits: TenantLimits
    # Buckets every tenant shares (HELIXQ_PROVIDER_LIMITS), by provider or model.
    shared_limits: dict[str, ScopeView]
    usage: UsageView


def table_view(table: dict[str, ScopeLimit]) -> dict[str, ScopeView]:
    """A limit table with rates per minute, as people write them."""
    return {
        scope: ScopeView(requests=_rate(limit.requests), tokens=_rate(limit.tokens))
        for scope, limit in table.items()
    }


def _rate(rate: Rate | None) -> RateView | None:
    if rate is None:
        return None
    return RateView(per_minute=round(rate.per_s * 60, 6), burst=rate.burst)


async def limits_view(
    session: AsyncSession, redis: Redis, caller: Caller, *, shared_limits: str
) -> LimitsView:
    """The caller's limits and current usage."""
    month = period_of(datetime.now(UTC), limits_of(caller).period)
    spent, reserved = await budget.spent_usd(redis, session, caller.slug, month=month)
    running = await redis.zcard(tenant_running(caller.slug))
    usage = UsageView(
        month=month,
        spent_usd=spent,
        reserved_usd=reserved,
        queued=await count_queued(session, caller),
        running=int(running),
    )
    return LimitsView(
        tenant=caller.slug,
        limits=limits_of(caller),
        shared_limits=table_view(parse_limits(shared_limits)),
        usage=usage,
    )
