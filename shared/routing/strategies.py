"""The routing strategies: each ranks the candidate pool for one request.

A strategy is called with `primary=True` to choose the first model (it may then
advance shared state, as round robin does) and with `primary=False` to order the
fallbacks (it must not). See docs/routing.md for the semantics of each.
"""

from collections.abc import Sequence

from shared.routing.classifier import classify
from shared.routing.cost_strategy import rank_cost_optimized
from shared.routing.performance_strategy import rank_performance_optimized
from shared.routing.pool import PoolEntry
from shared.routing.ranking import (
    RankContext,
    Ranking,
    describe_weights,
    first,
    models_of,
)
from shared.strategies import FallbackStrategy, RouteStrategy


def rank_basic(
    entries: Sequence[PoolEntry], ctx: RankContext, *, primary: bool
) -> Ranking:
    """The requested model, else the default model, else plain round robin."""
    models = models_of(entries)
    if ctx.requested and ctx.requested[0] in models:
        return Ranking(first(ctx.requested[0], models), "the requested model")
    if ctx.default_model in models:
        return Ranking(first(ctx.default_model, models), "the default model")
    if not primary:
        return Ranking(tuple(models), "configured order")
    chosen = ctx.rotation.next(ctx.scope, [(model, 1) for model in models])
    reason = "no requested or default model: plain round robin over the pool"
    return Ranking(first(chosen, models), reason)


def rank_round_robin(
    entries: Sequence[PoolEntry], ctx: RankContext, *, primary: bool
) -> Ranking:
    """Smooth weighted round robin, its position shared by every worker."""
    heaviest_first = models_of(sorted(entries, key=lambda entry: -entry.weight))
    if not primary:
        return Ranking(tuple(heaviest_first), "by weight, heaviest first")
    weights = [(entry.model, entry.weight) for entry in entries]
    chosen = ctx.rotation.next(ctx.scope, weights)
    reason = f"smooth weighted round robin ({describe_weights(entries)})"
    return Ranking(first(chosen, heaviest_first), reason)


def rank_weighted(
    entries: Sequence[PoolEntry],
    ctx: RankContext,
    *,
    primary: bool,  # noqa: ARG001  (every order is a fresh random draw)
) -> Ranking:
    """A random order in which each model leads with probability ∝ its weight."""
    # Efraimidis-Spirakis: sorting by u^(1/w) draws without replacement by weight.
    keys = {entry.model: ctx.rng.random() ** (1 / entry.weight) for entry in entries}
    order = sorted(keys, key=lambda model: -keys[model])
    reason = f"random draw proportional to weight ({describe_weights(entries)})"
    return Ranking(tuple(order), reason)


def rank_multi_model(
    entries: Sequence[PoolEntry],
    ctx: RankContext,
    *,
    primary: bool,  # noqa: ARG001  (the class decides; nothing shared to advance)
) -> Ranking:
    """The tier for the request's class first, then untiered models, then the rest."""
    request_class, why = classify(ctx.features)
    tiered = [entry for entry in entries if entry.tier == request_class]
    untiered = [entry for entry in entries if entry.tier is None]
    others = [entry for entry in entries if entry.tier not in (request_class, None)]
    where = (
        f"tier {request_class.value}"
        if tiered
        else f"no {request_class.value} tier in the pool: untiered models first"
    )
    return Ranking(
        tuple(models_of([*tiered, *untiered, *others])),
        f"classified as {request_class.value} ({why}); {where}",
        request_class=request_class.value,
    )


_RANKERS = {
    RouteStrategy.BASIC: rank_basic,
    RouteStrategy.ROUND_ROBIN: rank_round_robin,
    RouteStrategy.WEIGHTED: rank_weighted,
    RouteStrategy.COST_OPTIMIZED: rank_cost_optimized,
    RouteStrategy.PERFORMANCE_OPTIMIZED: rank_performance_optimized,
    RouteStrategy.MULTI_MODEL: rank_multi_model,
}


def rank(
    strategy: RouteStrategy | FallbackStrategy,
    entries: Sequence[PoolEntry],
    ctx: RankContext,
    *,
    primary: bool,
) -> Ranking:
    """Rank `entries` with `strategy` (a fallback strategy of the same name)."""
    if strategy == FallbackStrategy.NONE:
        return Ranking((), "no fallback")
    return _RANKERS[RouteStrategy(strategy.value)](entries, ctx, primary=primary)
