"""Performance stats per model, as routing sees them right now."""

from typing import Literal

from pydantic import BaseModel
from redis.asyncio import Redis

from broker_api.stats import queries
from shared.routing.performance import HALF_LIFE_S, MIN_SAMPLES, decay, score


class ModelStatsView(BaseModel):
    model: str
    latency_ms: float | None
    success_rate: float
    tokens_per_s: float | None
    samples: float  # decayed: recent attempts count more
    score: float  # success rate / latency in seconds (performance_optimized)
    is_cold: bool  # fewer than MIN_SAMPLES recent samples: explored first
    updated_at: float  # unix seconds of the last attempt


class ModelStatsList(BaseModel):
    object: Literal["list"] = "list"
    half_life_s: float = HALF_LIFE_S
    min_samples: float = MIN_SAMPLES
    data: list[ModelStatsView]


async def model_stats(redis: Redis, *, now_s: float) -> ModelStatsList:
    stored = await queries.read_model_stats(redis)
    views = []
    for model, raw in stored.items():
        stats = decay(raw, now_s)
        views.append(
            ModelStatsView(
                model=model,
                latency_ms=stats.latency_ms,
                success_rate=stats.success_rate,
                tokens_per_s=stats.tokens_per_s,
                samples=stats.samples,
                score=score(stats),
                is_cold=stats.is_cold,
                updated_at=raw.updated_at_s,
            )
        )
    return ModelStatsList(data=views)
