"""The Redis token bucket: Lua scripts and their arguments (pure text, no I/O).

One script takes from several buckets at once, all or none, reading the clock
with Redis `TIME` so every process and host shares one clock. A call may reserve
tokens up to `horizon_ms` ahead (the bucket goes negative): the caller then
sleeps the returned wait and calls at its own slot, so waiters neither stampede
nor lose their turn. Cool-down keys (set after an upstream 429) and an adaptive
factor (lowered on repeated 429s, recovering linearly) shape the same call.
Workers and the API load the scripts with their own Redis clients.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from shared.rate_limits import BucketSpec

# KEYS: n buckets, m cool-down keys, 1 factor key.
# ARGV: n, m, horizon_ms, then per bucket: rate per ms, burst, cost, adaptive (0|1).
# Returns {granted (0|1), wait_ms as text, Redis's clock in unix ms as text}:
# granted means "call after wait_ms", i.e. at that clock + wait_ms.
# A negative cost gives tokens back (never above the burst): settling an estimate.
TAKE_SCRIPT = """
local n, m, horizon = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = clock[1] * 1000 + clock[2] / 1000
local wait = 0
for i = 1, m do
  wait = math.max(wait, redis.call('PTTL', KEYS[n + i]))
end
local factor = 1
local f = redis.call('HMGET', KEYS[n + m + 1], 'factor', 'ts', 'recover')
if f[1] then
  factor = math.min(1, tonumber(f[1]) + (now - tonumber(f[2])) * tonumber(f[3]))
end
local levels, rates, bursts, costs = {}, {}, {}, {}
for i = 1, n do
  local at = 3 + (i - 1) * 4
  local rate, burst = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  if ARGV[at + 4] == '1' then rate = rate * factor end
  local cost = math.min(tonumber(ARGV[at + 3]), burst)
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens = burst
  if state[1] then
    local elapsed = math.max(0, now - tonumber(state[2]))
    tokens = math.min(burst, tonumber(state[1]) + elapsed * rate)
  end
  if tokens < cost then wait = math.max(wait, (cost - tokens) / rate) end
  levels[i], rates[i], bursts[i], costs[i] = tokens, rate, burst, cost
end
if wait > horizon then return {0, tostring(wait), tostring(now)} end
for i = 1, n do
  local left = math.min(bursts[i], levels[i] - costs[i])
  redis.call('HSET', KEYS[i], 'tokens', tostring(left), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil((bursts[i] - left) / rates[i]) + 1000)
end
return {1, tostring(wait), tostring(now)}
"""

# KEYS: factor key, cool-down key. ARGV: cool_ms, multiplier, min_factor,
# recover per ms, quiet_ms. Lowers the factor at most once per quiet_ms (a burst
# of 429s from calls already in flight is one signal, not many) and lengthens the
# cool-down, never shortens it. Returns the factor now in force.
COOL_DOWN_SCRIPT = """
local cool, multiplier, floor = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local recover, quiet = tonumber(ARGV[4]), tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = clock[1] * 1000 + clock[2] / 1000
local f = redis.call('HMGET', KEYS[1], 'factor', 'ts', 'lowered')
local factor = 1
if f[1] then
  factor = math.min(1, tonumber(f[1]) + (now - tonumber(f[2])) * recover)
end
if not f[3] or now - tonumber(f[3]) >= quiet then
  factor = math.max(floor, factor * multiplier)
  redis.call('HSET', KEYS[1], 'factor', tostring(factor), 'ts', tostring(now),
    'lowered', tostring(now), 'recover', tostring(recover))
  redis.call('PEXPIRE', KEYS[1], math.ceil((1 - factor) / recover) + quiet)
end
if cool > 0 and redis.call('PTTL', KEYS[2]) < cool then
  redis.call('SET', KEYS[2], '1', 'PX', math.ceil(cool))
end
return tostring(factor)
"""


@dataclass(frozen=True, slots=True)
class TakeCall:
    """The keys and arguments of one TAKE_SCRIPT call."""

    keys: list[str]
    args: list[str]


def take_call(
    buckets: Sequence[tuple[str, BucketSpec, bool]],
    *,
    cool_down_keys: Sequence[str],
    factor_key: str,
    horizon_s: float,
    burst_margin: float = 0.0,
) -> TakeCall:
    """TAKE_SCRIPT's keys and arguments for `buckets` (key, spec, adaptive), each
    burst lowered by `burst_margin` (never below one call)."""
    args = [str(len(buckets)), str(len(cool_down_keys)), repr(horizon_s * 1000)]
    for _, spec, adaptive in buckets:
        args += [
            repr(spec.rate.per_s / 1000),
            repr(max(1.0, spec.rate.burst - burst_margin)),
            repr(spec.cost),
            "1" if adaptive else "0",
        ]
    keys = [key for key, _, _ in buckets] + [*cool_down_keys, factor_key]
    return TakeCall(keys, args)


@dataclass(frozen=True, slots=True)
class Window:
    """The densest stretch of a sorted list of call times: calls `first`..`last`
    (indexes), and their count less what the rate allows over their span."""

    excess: float
    first: int = 0
    last: int = -1


def worst_window(times_s: Sequence[float], per_s: float) -> Window:
    """The window [a, b] of sorted call times with the greatest (calls in it) -
    per_s·(b - a): a bucket of burst B admitted the calls iff its excess is at
    most B."""
    worst = Window(0.0)
    # max over i ≤ j of (per_s·t_i - i), and the latest i that reaches it, so
    # that of equal windows the shortest is named
    best, best_at = float("-inf"), 0
    for index, time_s in enumerate(times_s):
        if per_s * time_s - index >= best:
            best, best_at = per_s * time_s - index, index
        excess = index + 1 - per_s * time_s + best
        if excess > worst.excess:
            worst = Window(excess, best_at, index)
    return worst
