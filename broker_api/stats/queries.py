"""Reads of the performance cache in Redis (written by the workers)."""

from redis.asyncio import Redis

from shared import redis_keys
from shared.routing.performance import ModelStats, stats_from_hash


async def read_model_stats(redis: Redis) -> dict[str, ModelStats]:
    """Every model's stats as stored (not decayed), in one pipeline round trip."""
    members = await redis.smembers(redis_keys.model_performance_index())
    models = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
    pipe = redis.pipeline(transaction=False)
    for model in models:
        pipe.hgetall(redis_keys.model_performance(model))
    found: dict[str, ModelStats] = {}
    for model, raw in zip(models, await pipe.execute(), strict=True):
        stats = stats_from_hash(raw)
        if stats is not None:  # expired meanwhile: the index outlives the hash
            found[model] = stats
    return found
