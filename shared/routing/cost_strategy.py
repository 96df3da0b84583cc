"""cost_optimized: the cheapest model that can serve the request.

Feasible means: the context holds the estimated prompt plus `max_tokens`, the
output limit allows `max_tokens`, and the model supports the request's `tools`
or JSON `response_format` (a model that publishes no parameter list is assumed
to). Feasible models are ordered by estimated cost at catalog prices, ties by
measured score; models with a variable price (`openrouter/auto`) or absent from
the catalog come after every priced one, and infeasible ones are left out unless
none is feasible.
"""

from collections.abc import Sequence
from decimal import Decimal

from shared.cost import estimated_cost_usd
from shared.routing.catalog import STRUCTURED_PARAMETERS, TOOLS_PARAMETERS, ModelInfo
from shared.routing.features import RequestFeatures
from shared.routing.performance import score
from shared.routing.pool import PoolEntry
from shared.routing.ranking import RankContext, Ranking


def rank_cost_optimized(
    entries: Sequence[PoolEntry],
    ctx: RankContext,
    *,
    primary: bool,  # noqa: ARG001  (the same order serves a first pick and fallbacks)
) -> Ranking:
    """Cheapest feasible first; see the module docstring for the rules."""
    priced: list[tuple[Decimal, float, int, str]] = []
    unpriced: list[str] = []
    infeasible: list[str] = []
    notes: dict[str, str] = {}
    for index, entry in enumerate(entries):
        info = ctx.catalog.get(entry.model)
        problem = infeasibility(info, ctx.features)
        cost = _cost(info, ctx.features)
        if problem is not None:
            infeasible.append(entry.model)
            notes[entry.model] = f"excluded: {problem}"
        elif cost is None:
            unpriced.append(entry.model)
            notes[entry.model] = "variable price" if info else "not in the catalog"
        else:
            priced.append(
                (cost, -_measured_score(entry.model, ctx), index, entry.model)
            )
            notes[entry.model] = f"est. ${cost.normalize():f}"
    order = [model for *_, model in sorted(priced)] + unpriced
    if not order:
        reason = "no candidate fits the request; trying all"
        return Ranking(tuple(infeasible), reason, notes)
    tokens = ctx.features
    reason = (
        f"cheapest feasible by list price for ~{tokens.prompt_tokens} prompt and "
        f"{tokens.expected_output_tokens} output tokens"
    )
    return Ranking(tuple(order), reason, notes, excluded=tuple(infeasible))


def infeasibility(info: ModelInfo | None, features: RequestFeatures) -> str | None:
    """Why `info` cannot serve the request, or None when it can (or is unknown)."""
    if info is None:
        return None
    if info.context_length and features.context_tokens > info.context_length:
        return f"needs ~{features.context_tokens} tokens, context {info.context_length}"
    limit = info.max_completion_tokens
    if features.max_output_tokens and limit and features.max_output_tokens > limit:
        return f"max_tokens {features.max_output_tokens} > output limit {limit}"
    if features.has_tools and not info.supports_any(TOOLS_PARAMETERS):
        return "no tools support"
    if features.has_response_format and not info.supports_any(STRUCTURED_PARAMETERS):
        return "no response_format support"
    return None


def _cost(info: ModelInfo | None, features: RequestFeatures) -> Decimal | None:
    if info is None:
        return None
    return estimated_cost_usd(
        info,
        prompt_tokens=features.prompt_tokens,
        completion_tokens=features.expected_output_tokens,
    )


def _measured_score(model: str, ctx: RankContext) -> float:
    stats = ctx.performance.get(model)
    if not ctx.performance_enabled or stats is None or stats.is_cold:
        return 0.0
    return score(stats)
