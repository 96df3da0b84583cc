"""Routing in the worker: a job's ordered candidates, re-ordered after a failure,
and every attempt folded into the shared performance cache.

The routing logic itself is pure (shared.routing); this module gathers its inputs
(catalog, performance stats, round-robin position) from Postgres and Redis. Its
methods block on those, so the completion path runs them off the event loop.
"""

import random
from dataclasses import dataclass, replace
from typing import Any

import redis
from redis.asyncio import Redis as AsyncRedis

from shared.routing.decision import RoutingDecision
from shared.routing.performance import AttemptSample
from shared.routing.pool import tenant_routing_of
from shared.routing.router import (
    RoutingDefaults,
    RoutingInputs,
    candidate_models,
    reorder_after_failure,
    resolve_strategies,
    route,
)
from shared.settings import RoutingSettings
from shared.strategies import FallbackStrategy, RouteStrategy
from workers.model_routing.catalog_sync import CatalogCache
from workers.model_routing.performance_store import PerformanceStore
from workers.model_routing.rotation_store import RedisRotation

# Strategies that read the performance cache (cost_optimized breaks ties with it);
# the others route without the Redis round trip.
PERFORMANCE_AWARE = frozenset(
    {
        RouteStrategy.PERFORMANCE_OPTIMIZED,
        RouteStrategy.COST_OPTIMIZED,
        FallbackStrategy.PERFORMANCE_OPTIMIZED,
        FallbackStrategy.COST_OPTIMIZED,
    }
)


@dataclass(frozen=True, slots=True)
class TenantFacts:
    """The tenant columns the claim returns, in the shape routing reads."""

    slug: str
    default_model: str | None
    route_strategy: str | None
    fallback_strategy: str | None
    model_pool: list[dict[str, Any]] | None


@dataclass(frozen=True, slots=True)
class Plan:
    decision: RoutingDecision
    inputs: RoutingInputs


class RoutePlanner:
    def __init__(
        self,
        *,
        catalog: CatalogCache,
        client: redis.Redis,
        async_client: AsyncRedis,
        settings: RoutingSettings,
        rng: random.Random,
    ) -> None:
        self._catalog = catalog
        self._performance = PerformanceStore(client, async_client=async_client)
        self._rotation = RedisRotation(client)
        self._defaults = RoutingDefaults.of(settings)
        self._rng = rng

    def plan(
        self,
        request: dict[str, Any],
        tenant: TenantFacts,
        override: dict[str, Any] | None,
    ) -> Plan:
        """The decision for one job; raises InvalidRequest on a corrupt config."""
        routing = tenant_routing_of(tenant)
        inputs = RoutingInputs(
            request=request,
            tenant=routing,
            defaults=self._defaults,
            catalog=self._catalog.get(),
            performance={},
            rotation=self._rotation,
            rng=self._rng,
            override=override,
        )
        if not PERFORMANCE_AWARE.isdisjoint(resolve_strategies(inputs)):
            candidates = candidate_models(request, routing, self._defaults)
            stats = self._performance.snapshot(candidates)
            inputs = replace(inputs, performance=stats)
        return Plan(route(inputs), inputs)

    def after_failure(
        self, plan: Plan, model: str, error_code: str, http_status: int | None
    ) -> Plan:
        """The remaining candidates ordered by the fallback strategy; `next_model()`
        is None when no other model can fix this failure."""
        decision = reorder_after_failure(
            plan.decision,
            plan.inputs,
            failed_model=model,
            error_code=error_code,
            http_status=http_status,
        )
        return Plan(decision, plan.inputs)

    async def record(self, model: str, sample: AttemptSample) -> None:
        """Fold one attempt into the model's shared performance stats (on the loop)."""
        await self._performance.record_async(model, sample)
