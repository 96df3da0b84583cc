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
from shared.strategies import FallbackStrategy, ModelSubstitution, RouteStrategy
from tests.unit.routing.builders import chat, make_inputs, model, stats

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


def test_requested_model_joins_the_pool_and_the_tenant_default_on_failure():
    decision = route(
        make_inputs(
            chat(model="z/asked"),
            pool=POOL,
            default_model="d/default",
            model_substitution=ModelSubstitution.ON_FAILURE,
        )
    )
    # basic as the fallback strategy: the default model next, then the pool's order
    assert decision.candidates == ("z/asked", "d/default", "a/one", "b/two", "c/three")


def test_pool_weights_and_tiers_apply_to_requested_models_open_to_substitution():
    pool = (PoolEntry("a/one", 1), PoolEntry("b/two", 9))
    body = chat(models=["a/one", "b/two"])
    decision = route(
        make_inputs(
            body,
            pool=pool,
            strategy=RouteStrategy.ROUND_ROBIN,
            override={"model_substitution": "any"},
        )
    )
    assert decision.candidates[0] == "b/two"


def test_a_named_model_is_not_replaced_by_a_model_the_strategy_explores():
    named, cold = "openai/gpt-4o-mini", "mistralai/mistral-nemo"
    inputs = make_inputs(
        chat(model=named),
        pool=(PoolEntry(named), PoolEntry(cold)),
        strategy=RouteStrategy.PERFORMANCE_OPTIMIZED,
        fallback=FallbackStrategy.NONE,
        performance={named: stats(400)},
    )
    decision = route(inputs)
    assert decision.candidates == (named,)
    assert "exploring" not in decision.reason
    assert "as named" in decision.reason


@pytest.mark.parametrize("strategy", list(RouteStrategy))
def test_a_named_model_alone_is_called_whatever_the_strategy(strategy):
    catalog = [model("z/asked", "0.01", "0.01"), model("a/one", "0", "0")]
    inputs = make_inputs(
        chat(model="z/asked"),
        pool=POOL,
        default_model="a/one",
        strategy=strategy,
        catalog=catalog,
    )
    assert route(inputs).candidates == ("z/asked",)


def test_the_models_list_is_tried_in_the_callers_order_and_nothing_else():
    catalog = [model("x/first", "0.01", "0.01"), model("y/second", "0", "0")]
    body = chat(model="x/first", models=["z/third", "y/second"])
    decision = route(
        make_inputs(
            body,
            pool=POOL,
            catalog=catalog,
            strategy=RouteStrategy.COST_OPTIMIZED,
            fallback=FallbackStrategy.NONE,
        )
    )
    assert decision.candidates == ("x/first", "z/third", "y/second")


def test_after_a_failure_the_named_models_keep_the_callers_order():
    catalog = [model("x/first"), model("z/third", "0.01", "0.01"), model("y/second")]
    body = chat(model="x/first", models=["z/third", "y/second"])
    inputs = make_inputs(
        body, catalog=catalog, fallback=FallbackStrategy.COST_OPTIMIZED
    )
    after = reorder_after_failure(
        route(inputs), inputs, failed_model="x/first", error_code="upstream_timeout"
    )
    assert after.remaining == ("z/third", "y/second")


def test_on_failure_the_tenants_models_follow_the_named_one_by_the_fallback():
    cheapest_first = [model("a/one", "0.01", "0.01"), model("c/three", "0", "0")]
    inputs = make_inputs(
        chat(model="z/asked"),
        pool=POOL,
        catalog=cheapest_first,
        strategy=RouteStrategy.COST_OPTIMIZED,
        fallback=FallbackStrategy.COST_OPTIMIZED,
        model_substitution=ModelSubstitution.ON_FAILURE,
    )
    decision = route(inputs)
    assert decision.candidates[:2] == ("z/asked", "c/three")
    after = reorder_after_failure(
        decision, inputs, failed_model="z/asked", error_code="upstream_unavailable"
    )
    assert after.next_model() == "c/three"


def test_any_substitution_lets_the_strategy_choose_another_first():
    named, cold = "openai/gpt-4o-mini", "mistralai/mistral-nemo"
    kwargs = {
        "pool": (PoolEntry(named), PoolEntry(cold)),
        "strategy": RouteStrategy.PERFORMANCE_OPTIMIZED,
        "performance": {named: stats(400)},
    }
    by_tenant = make_inputs(
        chat(model=named), model_substitution=ModelSubstitution.ANY, **kwargs
    )
    assert route(by_tenant).candidates[0] == cold
    by_request = make_inputs(
        chat(model=named), override={"model_substitution": "any"}, **kwargs
    )
    assert route(by_request).candidates[0] == cold
    by_deployment = make_inputs(
        chat(model=named),
        defaults=RoutingDefaults(model_substitution=ModelSubstitution.ANY),
        **kwargs,
    )
    assert route(by_deployment).candidates[0] == cold


def test_the_request_can_keep_its_model_where_the_tenant_allows_substitution():
    inputs = make_inputs(
        chat(model="z/asked"),
        pool=POOL,
        strategy=RouteStrategy.ROUND_ROBIN,
        model_substitution=ModelSubstitution.ANY,
        override={"model_substitution": "none"},
    )
    assert route(inputs).candidates == ("z/asked",)


def test_unknown_substitution_name_is_refused_with_suggestions():
    with pytest.raises(InvalidRequest) as caught:
        route(
            make_inputs(
                chat(model="z/asked"), override={"model_substitution": "on-failure"}
            )
        )
    assert caught.value.details["field"] == "route.model_substitution"
    assert caught.value.details["suggestions"][0] == "on_failure"


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
    assert candidate_models(
        inputs.request, inputs.tenant, inputs.defaults, inputs.catalog
    ) == [
        "z/asked",
        "a/one",
        "b/two",
        "c/three",
        "d/default",
    ]


EMBEDDING_CATALOG = (
    model(
        "e/cheap",
        prompt="0.00000002",
        completion="0",
        output_modalities=("embeddings",),
    ),
    model(
        "e/dear", prompt="0.0000002", completion="0", output_modalities=("embeddings",)
    ),
    model("a/one", output_modalities=("text",)),
)


def test_an_embeddings_request_is_routed_among_embedding_models_only():
    inputs = make_inputs(
        {"input": "hello"},
        pool=(PoolEntry("a/one"), PoolEntry("e/dear")),
        default_model="a/one",
        strategy=RouteStrategy.COST_OPTIMIZED,
        catalog=EMBEDDING_CATALOG,
    )
    assert route(inputs).candidates == ("e/dear",)  # the pool's embedding model


def test_without_pool_embedding_models_the_strategy_chooses_among_the_catalogs():
    inputs = make_inputs(
        {"input": "hello"},
        default_model="a/one",
        strategy=RouteStrategy.COST_OPTIMIZED,
        catalog=EMBEDDING_CATALOG,
    )
    assert route(inputs).candidates[0] == "e/cheap"
    assert set(route(inputs).candidates) == {"e/cheap", "e/dear"}


def test_an_embeddings_request_with_no_embedding_model_to_choose_is_refused():
    inputs = make_inputs({"input": "hello"}, default_model="a/one", catalog=())
    with pytest.raises(InvalidRequest, match="no embedding model"):
        route(inputs)
