"""The performance cache: one Redis hash per model, updated by every attempt.

The update is one Lua script so concurrent workers never lose an attempt; it is
shared.routing.performance.record_sample in Lua (tests check they agree).
`PerformanceCache` is the worker's, on its event loop; `PerformanceStore` serves
tools and tests with a blocking client.
"""

import time
from collections.abc import Callable, Iterable
from typing import Any

import redis
from redis.asyncio.client import Pipeline as AsyncPipeline

from shared import redis_keys
from shared.routing.performance import (
    EWMA_ALPHA,
    HALF_LIFE_S,
    AttemptSample,
    ModelStats,
    decay,
    stats_from_hash,
)
from workers.runtime.redis_batching import RedisBatcher

# KEYS[1]: the model's hash, KEYS[2]: the index set.
# ARGV: now_s, half_life_s, alpha, succeeded (0|1), latency_ms, tokens_per_s or "",
# ttl_s, model id. Empty strings stand for "no measurement".
_RECORD = """
local now = tonumber(ARGV[1])
local ok = tonumber(ARGV[4])
local latency = nil
if ok == 1 then latency = tonumber(ARGV[5]) end
local tps = tonumber(ARGV[6])
local old = redis.call('HMGET', KEYS[1], 'latency_ms', 'success_rate', 'tokens_per_s',
  'samples', 'updated_at')
local function ewma(previous, new, weight)
  if new == nil then return previous end
  if previous == nil then return new end
  return previous + weight * (new - previous)
end
local lat, success, speed, samples
if not old[4] then
  lat, success, speed, samples = latency, ok, tps, 1
else
  local elapsed = math.max(now - tonumber(old[5]), 0)
  local factor = 0.5 ^ (elapsed / tonumber(ARGV[2]))
  local kept = tonumber(old[4]) * factor
  local weight = math.max(tonumber(ARGV[3]), 1 / (kept + 1))
  local prior_success = 1 + (tonumber(old[2]) - 1) * factor
  lat = ewma(tonumber(old[1]), latency, weight)
  success = ewma(prior_success, ok, weight)
  speed = ewma(tonumber(old[3]), tps, weight)
  samples = kept + 1
end
local function text(value)
  if value == nil then return '' end
  return string.format('%.17g', value)
end
redis.call('HSET', KEYS[1], 'latency_ms', text(lat), 'success_rate', text(success),
  'tokens_per_s', text(speed), 'samples', text(samples), 'updated_at', text(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
redis.call('SADD', KEYS[2], ARGV[8])
return 1
"""


class PerformanceStore:
    """Per-model EWMAs in Redis; reads return stats decayed to now."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        half_life_s: float = HALF_LIFE_S,
        alpha: float = EWMA_ALPHA,
        ttl_s: int = redis_keys.MODEL_PERFORMANCE_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._record = client.register_script(_RECORD)
        self._half_life_s = half_life_s
        self._alpha = alpha
        self._ttl_s = ttl_s
        self._clock = clock

    def record(self, model: str, sample: AttemptSample) -> None:
        """Fold one attempt into the model's stats (atomic)."""
        keys, args = self.record_call(model, sample)
        self._record(keys=keys, args=args)

    def record_call(
        self, model: str, sample: AttemptSample
    ) -> tuple[list[str], list[str | int]]:
        """The record script's keys and arguments for one attempt, now."""
        return record_call(
            model,
            sample,
            now_s=self._clock(),
            half_life_s=self._half_life_s,
            alpha=self._alpha,
            ttl_s=self._ttl_s,
        )

    def snapshot(self, models: Iterable[str]) -> dict[str, ModelStats]:
        """The stats of `models` that have any, decayed to now (one round trip)."""
        names = list(dict.fromkeys(models))
        pipe = self._client.pipeline(transaction=False)
        for model in names:
            pipe.hgetall(redis_keys.model_performance(model))
        replies = pipe.execute()
        return _decayed(
            names, replies, now_s=self._clock(), half_life_s=self._half_life_s
        )


class PerformanceCache:
    """The performance cache on the worker's event loop: reads and writes go with
    the other jobs' Redis commands (workers.runtime.redis_batching)."""

    def __init__(
        self,
        redis: RedisBatcher,
        *,
        half_life_s: float = HALF_LIFE_S,
        alpha: float = EWMA_ALPHA,
        ttl_s: int = redis_keys.MODEL_PERFORMANCE_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._half_life_s = half_life_s
        self._alpha = alpha
        self._ttl_s = ttl_s
        self._clock = clock

    def add_record(
        self, pipe: AsyncPipeline, model: str, sample: AttemptSample
    ) -> None:
        """Queue the folding of one attempt into the model's stats on `pipe`. EVAL
        with the script's text: a pipeline cannot retry an EVALSHA the server has
        forgotten, and the text is short."""
        keys, args = record_call(
            model,
            sample,
            now_s=self._clock(),
            half_life_s=self._half_life_s,
            alpha=self._alpha,
            ttl_s=self._ttl_s,
        )
        pipe.eval(_RECORD, len(keys), *keys, *args)

    async def snapshot(self, models: Iterable[str]) -> dict[str, ModelStats]:
        """The stats of `models` that have any, decayed to now."""
        names = list(dict.fromkeys(models))
        replies = await self._redis.execute(
            lambda pipe: [
                pipe.hgetall(redis_keys.model_performance(model)) for model in names
            ]
        )
        return _decayed(
            names, replies, now_s=self._clock(), half_life_s=self._half_life_s
        )


def record_call(
    model: str,
    sample: AttemptSample,
    *,
    now_s: float,
    half_life_s: float,
    alpha: float,
    ttl_s: int,
) -> tuple[list[str], list[str | int]]:
    """The record script's keys and arguments for one attempt."""
    tokens_per_s = sample.tokens_per_s
    keys = [redis_keys.model_performance(model), redis_keys.model_performance_index()]
    args: list[str | int] = [
        repr(now_s),
        repr(half_life_s),
        repr(alpha),
        int(sample.succeeded),
        repr(float(sample.latency_ms)),
        "" if tokens_per_s is None else repr(tokens_per_s),
        ttl_s,
        model,
    ]
    return keys, args


def _decayed(
    names: list[str], replies: list[Any], *, now_s: float, half_life_s: float
) -> dict[str, ModelStats]:
    found: dict[str, ModelStats] = {}
    for model, raw in zip(names, replies, strict=True):
        stats = stats_from_hash(raw)
        if stats is not None:
            found[model] = decay(stats, now_s, half_life_s=half_life_s)
    return found
