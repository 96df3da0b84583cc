"""A tenant's running jobs, counted across every worker: a Redis sorted set of job
ids scored by the end of their lease, so a dead worker's slots free themselves."""

from uuid import UUID

from shared.redis_keys import tenant_running
from workers.runtime.redis_batching import RedisBatcher

# KEYS[1] the set. ARGV: job id, most running, lease ms. Drops lapsed entries,
# then takes a slot unless all are taken (a job that holds one keeps it).
_TAKE_SLOT = """
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1])
   and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


class RunningSlots:
    """At most `limit` running jobs per tenant, whatever process runs them."""

    def __init__(self, redis: RedisBatcher, *, lease_s: float) -> None:
        self._redis = redis
        self._lease_ms = round(lease_s * 1000)

    async def take(self, slug: str, job_id: UUID, *, limit: int) -> bool:
        """Hold one of the tenant's `limit` slots for the job; False when full."""
        taken = await self._redis.eval(
            _TAKE_SLOT, [tenant_running(slug)], [str(job_id), limit, self._lease_ms]
        )
        return bool(taken)

    async def give_back(self, slug: str, job_id: UUID) -> None:
        """Free the job's slot."""
        await self._redis.execute(
            lambda pipe: pipe.zrem(tenant_running(slug), str(job_id))
        )
