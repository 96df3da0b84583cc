import pytest

from shared.errors import InvalidRequest
from shared.routing.decision import RoutingDecision
from shared.routing.pool import PoolEntry
from shared.routing.router import (
    RoutingDefaults,
    candidate_models,
    reorder_after_failure,
    resolve_strategies,
    route,
)
from shared.settings import RoutingSettings
from shared.strategies import FallbackStrategy, RouteStrategy
from tests.unit.routing.builders import chat, make_inputs, model

POOL = (PoolEntry("a/one"), PoolEntry("b/two"), PoolEntry("c/three"))


def test_request_route_beats_tenant_which_beats_defaults():
    defaults = RoutingDefaults(
        strategy=RouteStrategy.WEIGHTED, fallback=FallbackStrategy.NONE
    )
    assert resolve_strategies(make_inputs(defaults=defaults)) == (
        RouteStrategy.WEIGHTED,
        FallbackStrategy.NONE,
    )
    tenant = make_inputs(defaults=defaults, strategy=RouteStrategy.ROUND_ROBIN)
    assert resolve_strategies(tenant)[0] == RouteStrategy.ROUND_ROBIN
    override = make_inputs(
        defaults=defaults,
        strategy=RouteStrategy.ROUND_ROBIN,
        override={"strategy": "multi_model", "fallback": "cost_optimized"},
    )
    assert resolve_strategies(override) == (
        RouteStrategy.MULTI_MODEL,
        FallbackStrategy.COST_OPTIMIZED,
    )


def test_cost_optimized_flag_sets_the_default_strategy():
    settings = RoutingSettings(
        openrouter_cost_optimized=True,
        openrouter_route_strategy=RouteStrategy.ROUND_ROBIN,
        openrouter_default_model="openrouter/openai/gpt-4o",
    )
    defaults = RoutingDefaults.of(settings)
    assert defaults.strategy == RouteStrategy.COST_OPTIMIZED
    assert defaults.default_model == "openai/gpt-4o"


def test_unknown_override_strategy_is_refused_with_suggestions():
    with pytest.raises(InvalidRequest) as caught:
        route(make_inputs(override={"strategy": "cost_optimised"}))
    assert caught.value.details["suggestions"][0] == "cost_optimized"


def test_models_list_replaces_the_tenant_pool_and_keeps_its_order():
    body = chat(model="openrouter/x/first", models=["y/second", "x/first"])
    decision = route(make_inputs(body, pool=POOL, default_model="a/one"))
    assert decision.candidates == ("x/first", "y/second")


def test_requested_model_joins_the_pool_and_the_tenant_default():
    decision = route(
        make_inputs(chat(model="z/asked"), pool=POOL, default_model="d/default")
    )
    # basic as the fallback strategy: the default model next, then the pool's order
    assert decision.candidates == ("z/asked", "d/default", "a/one", "b/two", "c/three")


def test_pool_weights_and_tiers_apply_to_requested_models():
    pool = (PoolEntry("a/one", 1), PoolEntry("b/two", 9))
    body = chat(models=["a/one", "b/two"])
    decision = route(make_inputs(body, pool=pool, strategy=RouteStrategy.ROUND_ROBIN))
    assert decision.candidates[0] == "b/two"


def test_decision_round_trips_through_json():
    decision = route(
        make_inputs(
            pool=POOL, catalog=[model("a/one")], strategy=RouteStrategy.COST_OPTIMIZED
        )
    )
    failed = reorder_after_failure(
        decision,
        make_inputs(pool=POOL),
        failed_model=decision.candidates[0],
        error_code="upstream_timeout",
    )
    used = failed.with_model_used(failed.next_model())
    assert RoutingDecision.from_json(used.to_json()) == used
    assert used.to_json()["failures"][0]["error_code"] == "upstream_timeout"


def _failed(decision, code, status=None, **kw):
    inputs = make_inputs(pool=POOL, **kw)
    return reorder_after_failure(
        decision,
        inputs,
        failed_model=decision.next_model(),
        error_code=code,
        http_status=status,
    )


def test_fixable_failure_moves_to_the_next_candidate():
    decision = route(make_inputs(pool=POOL))
    after = _failed(decision, "upstream_rate_limited", 429)
    assert after.next_model() == "b/two"
    assert after.tried == ("a/one",)
    assert after.candidates == ("a/one", "b/two", "c/three")


def test_unfixable_failure_ends_routing():
    after = _failed(route(make_inputs(pool=POOL)), "upstream_payment_required", 402)
    assert after.next_model() is None
    assert after.failures[-1].fixable is False


def test_every_candidate_failing_ends_routing():
    decision = route(make_inputs(pool=POOL))
    for _ in range(3):
        decision = _failed(decision, "upstream_unavailable", 503)
    assert decision.next_model() is None
    assert decision.tried == ("a/one", "b/two", "c/three")


def test_context_length_failure_keeps_only_larger_contexts():
    catalog = [
        model("a/one", context_length=8_000),
        model("b/two", context_length=4_000),
        model("c/three", context_length=32_000),
    ]
    decision = route(make_inputs(pool=POOL, catalog=catalog))
    after = _failed(decision, "upstream_context_length", 400, catalog=catalog)
    assert after.remaining == ("c/three",)


def test_remaining_candidates_are_reordered_by_the_fallback_strategy():
    catalog = [
        model("a/one"),
        model("b/two", "0.01", "0.01"),
        model("c/three", "0", "0"),
    ]
    decision = route(
        make_inputs(
            pool=POOL, catalog=catalog, fallback=FallbackStrategy.COST_OPTIMIZED
        )
    )
    assert decision.candidates == ("a/one", "c/three", "b/two")
    after = _failed(decision, "upstream_timeout", None, catalog=catalog)
    assert after.remaining == ("c/three", "b/two")


def test_candidate_models_are_what_the_worker_reads_stats_for():
    inputs = make_inputs(chat(model="z/asked"), pool=POOL, default_model="d/default")
    assert candidate_models(inputs.request, inputs.tenant, inputs.defaults) == [
        "z/asked",
        "a/one",
        "b/two",
        "c/three",
        "d/default",
    ]
