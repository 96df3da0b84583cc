"""Routing in the worker: a job's ordered candidates, re-ordered after a failure,
and every attempt folded into the shared performance cache.

The routing logic itself is pure (shared.routing); this module gathers its inputs
(catalog, performance stats, round-robin position) from Postgres and Redis on the
worker's event loop, with the loop's own clients: nothing is handed to a thread.
"""

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from redis.asyncio.client import Pipeline as AsyncPipeline

from shared.model_access import allowed_of
from shared.routing.catalog import ModelInfo
from shared.routing.decision import RoutingDecision
from shared.routing.performance import AttemptSample
from shared.routing.pool import tenant_routing_of
from shared.routing.rotation import Weights
from shared.routing.router import (
    RoutingDefaults,
    RoutingInputs,
    candidate_models,
    reorder_after_failure,
    route,
    strategies_in_use,
)
from shared.settings import RoutingSettings
from shared.strategies import FallbackStrategy, RouteStrategy
from workers.routing.catalog import CatalogCache
from workers.routing.performance_store import PerformanceCache
from workers.routing.rotation_store import rotation_step
from workers.runtime.redis_batching import RedisBatcher

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


class _RotationNeeded(Exception):
    """The decision reads the shared round-robin position (Redis)."""

    def __init__(self, scope: str, weights: Weights) -> None:
        super().__init__(scope)
        self.turn = (scope, tuple(weights))


@dataclass
class _Turns:
    """A Rotation answering from the steps already taken in Redis for this decision;
    any other step it refuses, so that the planner takes it on the loop and asks again
    (the pure router cannot await)."""

    taken: dict[tuple[str, Weights], str] = field(default_factory=dict)

    def next(self, scope: str, weights: Weights) -> str:
        turn = (scope, tuple(weights))
        if turn not in self.taken:
            raise _RotationNeeded(scope, weights)
        return self.taken[turn]


@dataclass(frozen=True, slots=True)
class TenantFacts:
    """The tenant columns the claim returns, in the shape routing reads."""

    slug: str
    default_model: str | None
    route_strategy: str | None
    fallback_strategy: str | None
    model_pool: list[dict[str, Any]] | None
    model_substitution: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    decision: RoutingDecision
    inputs: RoutingInputs


class RoutePlanner:
    """Plans jobs on the worker's event loop."""

    def __init__(
        self,
        *,
        catalog: CatalogCache,
        redis: RedisBatcher,
        settings: RoutingSettings,
        rng: random.Random,
    ) -> None:
        self._catalog = catalog
        self._redis = redis
        self._performance = PerformanceCache(redis)
        self._defaults = RoutingDefaults.of(settings)
        self._rng = rng

    async def plan(
        self,
        request: dict[str, Any],
        tenant: TenantFacts,
        override: dict[str, Any] | None,
    ) -> Plan:
        """The decision for one job; raises InvalidRequest on a corrupt config."""
        inputs = self._inputs(request, tenant, override, await self._catalog.get())
        if not PERFORMANCE_AWARE.isdisjoint(strategies_in_use(inputs)):
            candidates = candidate_models(
                request,
                inputs.tenant,
                self._defaults,
                inputs.catalog,
                allowed_of(override),
            )
            stats = await self._performance.snapshot(candidates)
            inputs = replace(inputs, performance=stats)
        turns = _Turns()
        inputs = replace(inputs, rotation=turns)
        while True:
            try:
                return Plan(route(inputs), inputs)
            except _RotationNeeded as needed:
                scope, weights = needed.turn
                turns.taken[needed.turn] = await rotation_step(
                    self._redis, scope, list(weights)
                )

    def _inputs(
        self,
        request: dict[str, Any],
        tenant: TenantFacts,
        override: dict[str, Any] | None,
        catalog: Mapping[str, ModelInfo],
    ) -> RoutingInputs:
        return RoutingInputs(
            request=request,
            tenant=tenant_routing_of(tenant),
            defaults=self._defaults,
            catalog=catalog,
            performance={},
            rotation=_Turns(),
            rng=self._rng,
            override=override,
        )

    def after_failure(
        self, plan: Plan, model: str, error_code: str, http_status: int | None
    ) -> Plan:
        """The remaining candidates ordered by the fallback strategy; `next_model()`
        is None when no other model can fix this failure. Pure: fallback orders
        read no shared position."""
        decision = reorder_after_failure(
            plan.decision,
            plan.inputs,
            failed_model=model,
            error_code=error_code,
            http_status=http_status,
        )
        return Plan(decision, plan.inputs)

    def add_record(
        self, pipe: AsyncPipeline, model: str, sample: AttemptSample
    ) -> None:
        """Queue the folding of one attempt into the model's shared performance
        stats on `pipe` (sent by the caller, on the loop)."""
        self._performance.add_record(pipe, model, sample)
