"""Routing in the worker: a job's ordered candidates, re-ordered after a failure,
and every attempt folded into the shared performance cache.

The routing logic itself is pure (shared.routing); this module gathers its inputs
(catalog, performance stats, round-robin position) from Postgres and Redis. Those
reads block, so the completion path runs `plan` off the event loop, except when
`plan_without_io` can decide from the cached catalog alone (the common case: a
named model, or strategies that read no shared state), which saves a thread hop.
"""

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import redis
from redis.asyncio.client import Pipeline as AsyncPipeline

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
    resolve_strategies,
    route,
)
from shared.settings import RoutingSettings
from shared.strategies import FallbackStrategy, RouteStrategy
from workers.maintenance.catalog_sync import CatalogCache
from workers.routing.performance_store import PerformanceStore
from workers.routing.rotation_store import RedisRotation

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


class _NoRotation:
    """A Rotation that refuses: planning on the loop must not block on Redis."""

    def next(self, scope: str, weights: Weights) -> str:  # noqa: ARG002 (Rotation)
        raise _RotationNeeded(scope)


_NO_ROTATION = _NoRotation()


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
        settings: RoutingSettings,
        rng: random.Random,
    ) -> None:
        self._catalog = catalog
        self._performance = PerformanceStore(client)
        self._rotation = RedisRotation(client)
        self._defaults = RoutingDefaults.of(settings)
        self._rng = rng

    def plan(
        self,
        request: dict[str, Any],
        tenant: TenantFacts,
        override: dict[str, Any] | None,
    ) -> Plan:
        """The decision for one job; raises InvalidRequest on a corrupt config.
        Blocks on Postgres and Redis as needed."""
        inputs = self._inputs(request, tenant, override, self._catalog.get())
        if not PERFORMANCE_AWARE.isdisjoint(resolve_strategies(inputs)):
            candidates = candidate_models(request, inputs.tenant, self._defaults)
            stats = self._performance.snapshot(candidates)
            inputs = replace(inputs, performance=stats)
        return Plan(route(inputs), inputs)

    def plan_without_io(
        self,
        request: dict[str, Any],
        tenant: TenantFacts,
        override: dict[str, Any] | None,
    ) -> Plan | None:
        """The decision when the cached catalog is enough to make it, or None
        when it needs Postgres or Redis (then `plan` makes it off the loop)."""
        catalog = self._catalog.cached()
        if catalog is None:
            return None
        inputs = self._inputs(request, tenant, override, catalog)
        if not PERFORMANCE_AWARE.isdisjoint(resolve_strategies(inputs)):
            return None
        try:
            decision = route(replace(inputs, rotation=_NO_ROTATION))
        except _RotationNeeded:
            return None
        return Plan(decision, inputs)

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
            rotation=self._rotation,
            rng=self._rng,
            override=override,
        )

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

    def add_record(
        self, pipe: AsyncPipeline, model: str, sample: AttemptSample
    ) -> None:
        """Queue the folding of one attempt into the model's shared performance
        stats on `pipe` (sent by the caller, on the loop)."""
        self._performance.add_record(pipe, model, sample)
