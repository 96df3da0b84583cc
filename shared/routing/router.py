"""The entry points the worker calls: `route` a job, then `reorder_after_failure`.

A model the request names is called as named, in the request's order (`model`,
then `models`), unless model substitution allows otherwise: `on_failure` adds the
tenant's pool and default model after them, ordered by the fallback strategy;
`any` lets the strategy choose among all of them, as for a request naming none.

The candidate set is the request's `model` and `models` when it names `models`;
otherwise its `model` (if any), the tenant's pool and the tenant's default model;
with none of those, the deployment's default model. An embeddings request's
candidates are embedding models only (`embedding_candidates`). The strategy picks
the first candidate, and the fallback strategy orders the rest.
"""

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from shared.endpoints import is_embeddings
from shared.errors import InvalidRequest
from shared.model_access import allowed_of, only_allowed
from shared.model_ids import upstream_model_id
from shared.routing.catalog import ModelInfo
from shared.routing.decision import FailureNote, RoutingDecision
from shared.routing.fallback import CONTEXT_LENGTH_CODE, is_fixable_by_another_model
from shared.routing.features import extract_features
from shared.routing.names import parse_fallback, parse_strategy, parse_substitution
from shared.routing.performance import ModelStats
from shared.routing.pool import PoolEntry, TenantRouting
from shared.routing.ranking import RankContext, Ranking
from shared.routing.rotation import Rotation
from shared.routing.strategies import rank
from shared.settings import RoutingSettings
from shared.strategies import FallbackStrategy, ModelSubstitution, RouteStrategy


@dataclass(frozen=True, slots=True)
class RoutingDefaults:
    """The deployment's defaults (OPENROUTER_* settings)."""

    default_model: str = "openai/gpt-4o-mini"
    strategy: RouteStrategy = RouteStrategy.BASIC
    fallback: FallbackStrategy = FallbackStrategy.BASIC
    performance_cache: bool = True
    model_substitution: ModelSubstitution = ModelSubstitution.NONE

    @classmethod
    def of(cls, settings: RoutingSettings) -> "RoutingDefaults":
        """From settings; OPENROUTER_COST_OPTIMIZED=true means cost_optimized."""
        return cls(
            default_model=upstream_model_id(settings.openrouter_default_model),
            strategy=settings.default_strategy,
            fallback=settings.openrouter_fallback_strategy,
            performance_cache=settings.openrouter_performance_cache,
            model_substitution=settings.helixq_model_substitution,
        )


@dataclass(frozen=True, slots=True)
class RoutingInputs:
    """One job's routing inputs: the request, its tenant and the shared state."""

    request: Mapping[str, object]  # the completion body (`jobs.request`)
    tenant: TenantRouting
    defaults: RoutingDefaults
    catalog: Mapping[str, ModelInfo]
    performance: Mapping[str, ModelStats]  # decayed to now
    rotation: Rotation
    rng: random.Random
    # `jobs.route`: {strategy, fallback, model_substitution, allowed_models}
    override: Mapping[str, object] | None = None


def route(inputs: RoutingInputs) -> RoutingDecision:
    """Choose the ordered candidates for one job; raises InvalidRequest on an
    unknown strategy or substitution name in the override or the tenant's config."""
    strategy, fallback = resolve_strategies(inputs)
    named = models_called_as_named(inputs)
    if named:
        return _route_named(inputs, named, strategy, fallback)
    entries = candidate_entries(inputs)
    ctx = _rank_context(inputs)
    lead = rank(strategy, entries, ctx, primary=True)
    chosen = lead.models[0]
    rest = [e for e in entries if e.model != chosen and e.model not in lead.excluded]
    follow = (
        rank(fallback, rest, ctx, primary=False) if rest else Ranking((), "none left")
    )
    return RoutingDecision(
        strategy=strategy.value,
        fallback=fallback.value,
        candidates=(chosen, *follow.models),
        reason=f"{strategy.value}: {lead.reason}; fallbacks by {fallback.value}: "
        f"{follow.reason}",
        notes=_merge_notes(lead.notes, follow.notes),
        request_class=lead.request_class or follow.request_class,
    )


def _route_named(
    inputs: RoutingInputs,
    named: tuple[str, ...],
    strategy: RouteStrategy,
    fallback: FallbackStrategy,
) -> RoutingDecision:
    """The named models first, in the request's order; with `on_failure`, the
    tenant's other candidates after them, ordered by the fallback strategy."""
    substitution = resolve_substitution(inputs)
    others: list[PoolEntry] = []
    if substitution is ModelSubstitution.ON_FAILURE:
        others = [e for e in candidate_entries(inputs) if e.model not in named]
    follow = (
        rank(fallback, others, _rank_context(inputs), primary=False)
        if others
        else Ranking((), "")
    )
    what = "the requested model" if len(named) == 1 else "the requested models"
    reason = (
        f"{what} as named (model substitution {substitution.value}: "
        f"{strategy.value} does not choose)"
    )
    if follow.models:
        reason += f"; then by {fallback.value}: {follow.reason}"
    return RoutingDecision(
        strategy=strategy.value,
        fallback=fallback.value,
        candidates=(*named, *follow.models),
        reason=reason,
        notes=dict(follow.notes),
        request_class=follow.request_class,
    )


def reorder_after_failure(
    decision: RoutingDecision,
    inputs: RoutingInputs,
    *,
    failed_model: str,
    error_code: str | None,
    http_status: int | None = None,
) -> RoutingDecision:
    """Record the failure and order what is left by the fallback strategy; the
    result's `next_model()` is None when no other model can fix this failure."""
    fixable = is_fixable_by_another_model(error_code, http_status)
    failures = (
        *decision.failures,
        FailureNote(failed_model, error_code, http_status, fixable),
    )
    tried = tuple(dict.fromkeys(failure.model for failure in failures))
    remaining = [model for model in decision.candidates if model not in tried]
    if error_code == CONTEXT_LENGTH_CODE:
        remaining = _larger_context(remaining, failed_model, inputs.catalog)
    if not fixable or not remaining:
        return replace(decision, failures=failures, candidates=(*tried, *remaining))
    named = models_called_as_named(inputs)
    kept = [model for model in remaining if model in named]  # the request's order
    pool = {entry.model: entry for entry in inputs.tenant.pool}
    entries = [pool.get(m, PoolEntry(m)) for m in remaining if m not in named]
    fallback = FallbackStrategy(decision.fallback)
    ranking = (
        rank(fallback, entries, _rank_context(inputs), primary=False)
        if entries
        else Ranking((), "")
    )
    return replace(
        decision,
        failures=failures,
        candidates=(*tried, *kept, *ranking.models),
        notes=_merge_notes(decision.notes, {failed_model: f"failed: {error_code}"}),
    )


def resolve_strategies(inputs: RoutingInputs) -> tuple[RouteStrategy, FallbackStrategy]:
    """The request's `route` wins over the tenant's, which wins over the defaults."""
    override = inputs.override or {}
    tenant, defaults = inputs.tenant, inputs.defaults
    strategy_name = override.get("strategy")
    fallback_name = override.get("fallback")
    strategy = (
        parse_strategy(str(strategy_name))
        if strategy_name
        else tenant.route_strategy or defaults.strategy
    )
    fallback = (
        parse_fallback(str(fallback_name))
        if fallback_name
        else tenant.fallback_strategy or defaults.fallback
    )
    return strategy, fallback


def resolve_substitution(inputs: RoutingInputs) -> ModelSubstitution:
    """The request's `route.model_substitution` wins over the tenant's, which wins
    over the deployment's (HELIXQ_MODEL_SUBSTITUTION)."""
    name = (inputs.override or {}).get("model_substitution")
    if name:
        return parse_substitution(str(name))
    return inputs.tenant.model_substitution or inputs.defaults.model_substitution


def models_called_as_named(inputs: RoutingInputs) -> tuple[str, ...]:
    """The models the request names, when they are called as named and first;
    empty when it names none, or substitution `any` lets the strategy choose."""
    named = requested_models(inputs.request)
    if not named or resolve_substitution(inputs) is ModelSubstitution.ANY:
        return ()
    return named


def strategies_in_use(
    inputs: RoutingInputs,
) -> tuple[RouteStrategy | FallbackStrategy, ...]:
    """The strategies that order this job's candidates: none for models called as
    named alone, the fallback strategy when the tenant's models follow them."""
    strategy, fallback = resolve_strategies(inputs)
    if not models_called_as_named(inputs):
        return (strategy, fallback)
    if resolve_substitution(inputs) is ModelSubstitution.ON_FAILURE:
        return (fallback,)
    return ()


def requested_models(request: Mapping[str, object]) -> tuple[str, ...]:
    """The request's `model` then its `models`, normalised, without repeats."""
    names: list[object] = [request.get("model")]
    models = request.get("models")
    if isinstance(models, list):
        names.extend(models)
    ids = (
        upstream_model_id(n.strip()) for n in names if isinstance(n, str) and n.strip()
    )
    return tuple(dict.fromkeys(ids))


def candidate_models(
    request: Mapping[str, object],
    tenant: TenantRouting,
    defaults: RoutingDefaults,
    catalog: Mapping[str, ModelInfo],
    allowed: Sequence[str] | None = None,
) -> list[str]:
    """The candidate set's ids (see the module docstring), unordered by strategy:
    what the worker reads performance stats for before routing. An embeddings
    request's set holds embedding models only (embedding_candidates). With an
    allow-list, only its models: when none of the set is on it, the list itself
    (its embedding models, for an embeddings request)."""
    if is_embeddings(request):
        ids = embedding_candidates(request, tenant, catalog)
        return ids if allowed is None else _allowed_embeddings(ids, allowed, catalog)
    ids = list(requested_models(request))
    if not request.get("models"):
        ids += [entry.model for entry in tenant.pool]
        ids += [tenant.default_model] if tenant.default_model else []
    ids = list(dict.fromkeys(ids or [defaults.default_model]))
    if allowed is None:
        return ids
    return only_allowed(ids, allowed) or list(allowed)


def _allowed_embeddings(
    ids: list[str], allowed: Sequence[str], catalog: Mapping[str, ModelInfo]
) -> list[str]:
    kept = only_allowed(ids, allowed) or [
        model for model in allowed if _is_embedding(model, catalog)
    ]
    if not kept:
        raise InvalidRequest(
            "no embedding model to route to: the models this key or tenant may use "
            f"({', '.join(allowed)}) hold none"
        )
    return kept


def embedding_candidates(
    request: Mapping[str, object],
    tenant: TenantRouting,
    catalog: Mapping[str, ModelInfo],
) -> list[str]:
    """The request's models, then the embedding models of the tenant's pool; with
    neither, every embedding model the catalog lists. Raises InvalidRequest when
    there is none to choose from."""
    ids = list(requested_models(request))
    if not request.get("models"):
        ids += [e.model for e in tenant.pool if _is_embedding(e.model, catalog)]
    if not ids:
        ids = sorted(model.id for model in catalog.values() if model.is_embedding)
    if not ids:
        raise InvalidRequest(
            "no embedding model to route to: name one in `model`, or list one in "
            "the tenant's model pool",
            details={"field": "model"},
        )
    return list(dict.fromkeys(ids))


def _is_embedding(model_id: str, catalog: Mapping[str, ModelInfo]) -> bool:
    info = catalog.get(model_id)
    return info is not None and info.is_embedding


def candidate_entries(inputs: RoutingInputs) -> list[PoolEntry]:
    """The candidate set with the pool's weights and tiers."""
    pool = {entry.model: entry for entry in inputs.tenant.pool}
    allowed = allowed_of(inputs.override)
    ids = candidate_models(
        inputs.request, inputs.tenant, inputs.defaults, inputs.catalog, allowed
    )
    return [pool.get(model, PoolEntry(model)) for model in ids]


def _rank_context(inputs: RoutingInputs) -> RankContext:
    tenant = inputs.tenant
    # The deployment default stands in only for a tenant that named no model at all.
    default_model = tenant.default_model or (
        None if tenant.pool else inputs.defaults.default_model
    )
    return RankContext(
        features=extract_features(inputs.request),
        catalog=inputs.catalog,
        performance=inputs.performance,
        performance_enabled=inputs.defaults.performance_cache,
        rng=inputs.rng,
        rotation=inputs.rotation,
        scope=tenant.scope,
        requested=requested_models(inputs.request),
        default_model=default_model,
    )


def _larger_context(
    models: Sequence[str], failed_model: str, catalog: Mapping[str, ModelInfo]
) -> list[str]:
    """Models whose context is larger than the one that was too small (or unknown)."""
    failed = catalog.get(failed_model)
    limit = failed.context_length if failed else None
    if not limit:
        return list(models)
    return [
        model
        for model in models
        if (info := catalog.get(model)) is None
        or info.context_length is None
        or info.context_length > limit
    ]


def _merge_notes(*parts: Mapping[str, str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for notes in parts:
        for model, note in notes.items():
            previous = merged.get(model)
            merged[model] = note if previous in (None, note) else f"{previous}; {note}"
    return merged
