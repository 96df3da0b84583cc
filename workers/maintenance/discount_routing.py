"""Route discount-lane lines before they are grouped: the tenant's strategy picks
each line's model, comparing the catalog's `:batch` prices where it compares prices.

The routing logic is the realtime lane's (shared.routing.router), run on the
submission sweep's thread with a catalog whose models with a Batch API endpoint
carry their `:batch` prices. An upstream batch holds one model, so a line takes the
first of its candidates that has a batch endpoint (else its first candidate, which
OpenRouter then refuses and the line runs realtime). Round-robin positions are kept
for the pass (a batch's lines interleave among themselves); the performance cache is
not read here, so `performance_optimized` falls back to its cold-start order.
"""

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from shared.lanes import BATCH_VARIANT_SUFFIX
from shared.routing.catalog import ModelInfo
from shared.routing.decision import RoutingDecision
from shared.routing.pool import TenantRouting, tenant_routing_of
from shared.routing.rotation import MemoryRotation
from shared.routing.router import RoutingDefaults, RoutingInputs, route
from workers.routing.catalog import load_listed_models_blocking
from workers.routing.planner import TenantFacts


def batch_priced(models: Mapping[str, ModelInfo]) -> dict[str, ModelInfo]:
    """The catalog as the discount lane sees it: each model with a `:batch` entry
    priced at that entry's prices; the `:batch` entries themselves left out."""
    priced = {k: m for k, m in models.items() if not k.endswith(BATCH_VARIANT_SUFFIX)}
    for model_id, variant in models.items():
        if not model_id.endswith(BATCH_VARIANT_SUFFIX):
            continue
        base_id = model_id.removesuffix(BATCH_VARIANT_SUFFIX)
        base = priced.get(base_id, replace(variant, id=base_id))
        priced[base_id] = replace(
            base,
            prompt_price=variant.prompt_price,
            completion_price=variant.completion_price,
            request_price=variant.request_price,
            pricing=variant.pricing,
        )
    return priced


@dataclass(frozen=True)
class RoutedLine:
    """A line's model for its upstream batch, and the decision (`jobs.routing`)."""

    model: str
    decision: RoutingDecision


class DiscountRouter:
    """Routes the lines of one submission pass (one catalog read a pass)."""

    def __init__(self, session: Session, defaults: RoutingDefaults) -> None:
        models = load_listed_models_blocking(session)
        self.batch_models = frozenset(
            k.removesuffix(BATCH_VARIANT_SUFFIX)
            for k in models
            if k.endswith(BATCH_VARIANT_SUFFIX)
        )
        self.catalog = batch_priced(models)
        self._defaults = defaults
        self._rotation = MemoryRotation()
        self._rng = random.Random()
        self._tenants: dict[str, TenantRouting] = {}

    def route(
        self,
        request: Mapping[str, Any],
        tenant: TenantFacts,
        override: Mapping[str, Any] | None,
    ) -> RoutedLine:
        """The line's model; raises InvalidRequest on a corrupt routing config."""
        routing = self._tenants.get(tenant.slug)
        if routing is None:  # once per tenant a pass: its config does not change
            routing = self._tenants[tenant.slug] = tenant_routing_of(tenant)
        inputs = RoutingInputs(
            request=request,
            tenant=routing,
            defaults=self._defaults,
            catalog=self.catalog,
            performance={},
            rotation=self._rotation,
            rng=self._rng,
            override=override,
        )
        decision = route(inputs)
        batched = [m for m in decision.candidates if m in self.batch_models]
        model = batched[0] if batched else decision.candidates[0]
        # The upstream batch runs one model: the others are the realtime lane's
        # fallbacks, should the line come back.
        ordered = (model, *(m for m in decision.candidates if m != model))
        return RoutedLine(model, replace(decision, candidates=ordered))
