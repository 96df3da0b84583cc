"""Builders for routing inputs with valid defaults: `make_inputs(pool=[...])`."""

import random
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from shared.routing.catalog import ModelInfo
from shared.routing.performance import ModelStats
from shared.routing.pool import PoolEntry, TenantRouting
from shared.routing.rotation import MemoryRotation, Rotation
from shared.routing.router import RoutingDefaults, RoutingInputs
from shared.strategies import FallbackStrategy, ModelSubstitution, RouteStrategy


def model(
    model_id: str, prompt: str = "0.000001", completion: str = "0.000002", **kw: Any
) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        context_length=kw.pop("context_length", 128_000),
        max_completion_tokens=kw.pop("max_completion_tokens", None),
        prompt_price=Decimal(prompt),
        completion_price=Decimal(completion),
        **kw,
    )


def chat(text: str = "hello", **fields: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **fields}


def make_inputs(
    request: Mapping[str, object] | None = None,
    *,
    pool: Sequence[PoolEntry] = (),
    strategy: RouteStrategy | None = None,
    fallback: FallbackStrategy | None = None,
    default_model: str | None = None,
    catalog: Sequence[ModelInfo] = (),
    performance: Mapping[str, ModelStats] | None = None,
    rotation: Rotation | None = None,
    seed: int = 1,
    rng: random.Random | None = None,
    defaults: RoutingDefaults | None = None,
    override: Mapping[str, object] | None = None,
    model_substitution: ModelSubstitution | None = None,
) -> RoutingInputs:
    return RoutingInputs(
        request=request if request is not None else chat(),
        tenant=TenantRouting(
            scope="acme",
            default_model=default_model,
            route_strategy=strategy,
            fallback_strategy=fallback,
            pool=tuple(pool),
            model_substitution=model_substitution,
        ),
        defaults=defaults or RoutingDefaults(),
        catalog={m.id: m for m in catalog},
        performance=dict(performance or {}),
        rotation=rotation or MemoryRotation(),
        rng=rng or random.Random(seed),
        override=override,
    )


def stats(
    latency_ms: float,
    success: float = 1.0,
    samples: float = 10.0,
    tps: float | None = None,
) -> ModelStats:
    return ModelStats(
        latency_ms=latency_ms,
        success_rate=success,
        tokens_per_s=tps,
        samples=samples,
        updated_at_s=1_000.0,
    )
