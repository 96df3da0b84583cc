"""A tenant's budget ledger in Redis: reserve at dispatch, settle after.

The budget covers a day, a week or (by default) a month (shared.budget_periods);
the functions' `month` is the label of whichever period it is.

Why Redis and not Postgres: every worker process reserves before every call of a
budgeted tenant, and the check-and-reserve must be atomic across processes; one
Lua call does that in microseconds, where a row lock would serialise the tenant's
calls on Postgres. Postgres stays the truth of what was spent (attempts.cost_usd):
the ledger only gates. Amounts are integer nano-USD (exact, and far below 2^53
for any budget). One hash per tenant and period: `spent`, `reserved`, `seeded`.

A ledger Redis does not have (a new month, or Redis lost it) is seeded from
Postgres first: what the tenant's calls of the month cost. Jobs that settle while
the seed is read may be counted twice, which errs on the side of refusing.
"""

from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shared.budget_periods import BudgetPeriod, period_bounds, period_of
from shared.redis_keys import TENANT_BUDGET_TTL_S, tenant_budget

NANO = Decimal("1e9")

# KEYS[1] ledger. ARGV: estimate, budget (nano-USD), ttl_s. Reserves the estimate
# unless spent + reserved + estimate would pass the budget (a job with no price
# estimate still needs one nano-USD of room). Returns 1 when reserved, 0 when
# refused, -1 when the ledger has not been seeded from Postgres yet.
RESERVE_SCRIPT = """
if redis.call('HEXISTS', KEYS[1], 'seeded') == 0 then return -1 end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local estimate = math.max(tonumber(ARGV[1]), 1)
if spent + reserved + estimate > tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'reserved', tonumber(ARGV[1]))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


# KEYS[1] ledger. ARGV: what Postgres says was spent (nano-USD), ttl_s. Once: the
# first seeder wins; settles that came before it are kept.
SEED_SCRIPT = """
if redis.call('HEXISTS', KEYS[1], 'seeded') == 1 then return 0 end
redis.call('HINCRBY', KEYS[1], 'spent', tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'seeded', 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""

# The record: what the tenant's calls started in [start, end) cost.
RECORDED_SPEND = text("""
SELECT coalesce(sum(a.cost_usd), 0)
FROM attempts a JOIN jobs j ON j.id = a.job_id JOIN tenants t ON t.id = j.tenant_id
WHERE t.slug = :slug AND a.started_at >= :start AND a.started_at < :end
""")


class UnseededLedger(Exception):
    """The month's ledger is not in Redis: seed it from Postgres first."""


def month_of(now: datetime) -> str:
    """The UTC month a moment belongs to, as `YYYY-MM`."""
    return period_of(now, BudgetPeriod.MONTH)


def to_nano(usd: Decimal) -> int:
    """USD as whole nano-USD, rounded up (never under-count a spend)."""
    return int((usd * NANO).to_integral_value(rounding=ROUND_CEILING))


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a `YYYY-MM` month, in UTC."""
    return period_bounds(month)


def recorded_spend(session: Session, slug: str, month: str) -> Decimal:
    """What Postgres says the tenant's calls of the period `month` (any period
    label: shared.budget_periods) cost."""
    start, end = period_bounds(month)
    params = {"slug": slug, "start": start, "end": end}
    return Decimal(session.execute(RECORDED_SPEND, params).scalar_one())


async def seed(redis: "Redis", slug: str, *, month: str, spent_usd: Decimal) -> None:
    """Start the month's ledger from what Postgres recorded (once)."""
    key = tenant_budget(slug, month)
    await redis.eval(SEED_SCRIPT, 1, key, to_nano(spent_usd), TENANT_BUDGET_TTL_S)


async def reserve(
    redis: "Redis", slug: str, *, month: str, estimate_usd: Decimal, budget_usd: Decimal
) -> bool:
    """Reserve `estimate_usd` of the tenant's month; False when it would not fit.
    Raises UnseededLedger when Redis has no ledger for the month."""
    reserved = await redis.eval(
        RESERVE_SCRIPT,
        1,
        tenant_budget(slug, month),
        to_nano(estimate_usd),
        to_nano(budget_usd),
        TENANT_BUDGET_TTL_S,
    )
    if int(reserved) < 0:
        raise UnseededLedger(slug, month)
    return bool(reserved)


async def settle(
    redis: "Redis", slug: str, *, month: str, estimate_usd: Decimal, actual_usd: Decimal
) -> None:
    """Replace a reservation with what the calls actually cost."""
    key = tenant_budget(slug, month)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hincrby(key, "reserved", -to_nano(estimate_usd))
        pipe.hincrby(key, "spent", to_nano(actual_usd))
        pipe.expire(key, TENANT_BUDGET_TTL_S)
        await pipe.execute()


async def spent_usd(
    redis: "Redis", session: AsyncSession, slug: str, *, month: str
) -> tuple[Decimal, Decimal]:
    """What the tenant spent this month and what is reserved for calls under way;
    seeds the ledger from Postgres (through `session`, whose read it ends) when
    Redis has none."""
    key = tenant_budget(slug, month)
    spent, reserved, seeded = await redis.hmget(key, "spent", "reserved", "seeded")
    if seeded is None:
        recorded = await session.run_sync(recorded_spend, slug, month)
        await session.rollback()  # the caller's route opens its own transaction
        await seed(redis, slug, month=month, spent_usd=recorded)
        spent, reserved = await redis.hmget(key, "spent", "reserved")
    return from_nano(int(spent or 0)), from_nano(int(reserved or 0))


def from_nano(nano: int) -> Decimal:
    """Nano-USD as USD, written plainly (`0`, `12`, `0.0000036`)."""
    usd = Decimal(nano) / NANO
    if usd == usd.to_integral_value():
        return usd.quantize(Decimal(1))
    return usd.normalize()
