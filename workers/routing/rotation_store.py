"""Round-robin positions in Redis, shared by every worker: one atomic Lua step.

The hash holds each model's current weight for one tenant's pool; the script is
shared.routing.rotation.smooth_weighted_step, so every worker sees one sequence.
`RedisRotation` takes a step with a blocking client (tools, tests);
`rotation_step` takes it on the worker's event loop.
"""

import redis

from shared import redis_keys
from shared.routing.rotation import Weights, pool_signature
from workers.runtime.redis_batching import RedisBatcher

# KEYS[1]: the state hash. ARGV: ttl_s, then model, weight pairs in pool order.
# The first model with the largest current weight wins, as in the Python step.
_STEP = """
local total = 0
local chosen = nil
local best = nil
for i = 2, #ARGV, 2 do
  local weight = tonumber(ARGV[i + 1])
  local current = redis.call('HINCRBY', KEYS[1], ARGV[i], weight)
  total = total + weight
  if best == nil or current > best then
    chosen = ARGV[i]
    best = current
  end
end
redis.call('HINCRBY', KEYS[1], chosen, -total)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return chosen
"""


class RedisRotation:
    """`shared.routing.rotation.Rotation` on Redis."""

    def __init__(
        self, client: redis.Redis, *, ttl_s: int = redis_keys.ROUND_ROBIN_STATE_TTL_S
    ) -> None:
        self._step = client.register_script(_STEP)
        self._ttl_s = ttl_s

    def next(self, scope: str, weights: Weights) -> str:
        """Advance the tenant's rotation one step and return the chosen model."""
        keys, args = _step_call(scope, weights, self._ttl_s)
        return _model(self._step(keys=keys, args=args))


async def rotation_step(
    redis: RedisBatcher,
    scope: str,
    weights: Weights,
    *,
    ttl_s: int = redis_keys.ROUND_ROBIN_STATE_TTL_S,
) -> str:
    """`RedisRotation.next` on the worker's loop, sent with the jobs' commands."""
    keys, args = _step_call(scope, weights, ttl_s)
    return _model(await redis.eval(_STEP, keys, args))


def _step_call(
    scope: str, weights: Weights, ttl_s: int
) -> tuple[list[str], list[str | int]]:
    if not weights:
        raise ValueError("round robin over an empty pool")
    args: list[str | int] = [ttl_s]
    for model, weight in weights:
        args += [model, weight]
    return [redis_keys.round_robin_state(scope, pool_signature(weights))], args


def _model(chosen: object) -> str:
    return chosen.decode() if isinstance(chosen, bytes) else str(chosen)
