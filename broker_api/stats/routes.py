"""HTTP for the performance cache: `GET /v1/stats/models`."""

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from redis.asyncio import Redis

from broker_api.deps import CallerDep
from broker_api.stats import service
from broker_api.stats.service import ModelStatsList

router = APIRouter(prefix="/v1/stats", tags=["stats"])


async def get_redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


RedisDep = Annotated[Redis, Depends(get_redis)]


@router.get("/models")
async def model_stats(redis: RedisDep, caller: CallerDep) -> ModelStatsList:  # noqa: ARG001
    """Measured success rate, latency and throughput per model, decayed to now."""
    return await service.model_stats(redis, now_s=time.time())
