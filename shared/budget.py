"""A tenant's monthly budget ledger in Redis: reserve at dispatch, settle after.

Why Redis and not Postgres: every worker process reserves before every call of a
budgeted tenant, and the check-and-reserve must be atomic across processes; one
Lua call does that in microseconds, where a row lock would serialise the tenant's
calls on Postgres. Postgres stays the truth of what was spent (attempts.cost_usd):
the ledger only gates. Amounts are integer nano-USD (exact, and far below 2^53
for any budget). One hash per tenant and UTC month: `spent`, `reserved`.
"""

from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from redis.asyncio import Redis

from shared.redis_keys import TENANT_BUDGET_TTL_S, tenant_budget

NANO = Decimal("1e9")

# KEYS[1] ledger. ARGV: estimate, budget (nano-USD), ttl_s. Reserves the estimate
# unless spent + reserved + estimate would pass the budget (a job with no price
# estimate still needs one nano-USD of room). Returns 1 when reserved.
RESERVE_SCRIPT = """
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local estimate = math.max(tonumber(ARGV[1]), 1)
if spent + reserved + estimate > tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'reserved', tonumber(ARGV[1]))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


def month_of(now: datetime) -> str:
    """The UTC month a moment belongs to, as `YYYY-MM`."""
    return now.strftime("%Y-%m")


def to_nano(usd: Decimal) -> int:
    """USD as whole nano-USD, rounded up (never under-count a spend)."""
    return int((usd * NANO).to_integral_value(rounding=ROUND_CEILING))


async def reserve(
    redis: "Redis", slug: str, *, month: str, estimate_usd: Decimal, budget_usd: Decimal
) -> bool:
    """Reserve `estimate_usd` of the tenant's month; False when it would not fit."""
    reserved = await redis.eval(
        RESERVE_SCRIPT,
        1,
        tenant_budget(slug, month),
        to_nano(estimate_usd),
        to_nano(budget_usd),
        TENANT_BUDGET_TTL_S,
    )
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
    redis: "Redis", slug: str, *, month: str
) -> tuple[Decimal, Decimal]:
    """What the tenant spent this month and what is reserved for calls under way."""
    spent, reserved = await redis.hmget(tenant_budget(slug, month), "spent", "reserved")
    return from_nano(int(spent or 0)), from_nano(int(reserved or 0))


def from_nano(nano: int) -> Decimal:
    """Nano-USD as USD, written plainly (`0`, `12`, `0.0000036`)."""
    usd = Decimal(nano) / NANO
    if usd == usd.to_integral_value():
        return usd.quantize(Decimal(1))
    return usd.normalize()
