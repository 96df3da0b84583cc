"""Each strategy in isolation, through `route` with in-memory state."""

import random
from collections import Counter

import pytest

from shared.routing.classifier import RequestClass
from shared.routing.pool import PoolEntry
from shared.routing.rotation import MemoryRotation
from shared.routing.router import RoutingDefaults, route
from shared.strategies import FallbackStrategy, RouteStrategy
from tests.unit.routing.builders import chat, make_inputs, model

POOL = (PoolEntry("a/one", 5), PoolEntry("b/two", 1), PoolEntry("c/three", 1))


def _first(**kw):
    return route(make_inputs(**kw)).candidates[0]


def test_basic_takes_the_requested_model():
    assert (
        _first(request=chat(model="x/asked"), pool=POOL, strategy=RouteStrategy.BASIC)
        == "x/asked"
    )


def test_basic_takes_the_tenant_default_without_a_requested_model():
    decision = route(
        make_inputs(pool=POOL, default_model="b/two", strategy=RouteStrategy.BASIC)
    )
    assert decision.candidates[0] == "b/two"
    assert "default model" in decision.reason


def test_basic_without_model_or_default_is_plain_round_robin():
    rotation = MemoryRotation()
    picks = [
        _first(pool=POOL, strategy=RouteStrategy.BASIC, rotation=rotation)
        for _ in range(6)
    ]
    assert picks == ["a/one", "b/two", "c/three"] * 2  # weights ignored


def test_basic_falls_back_to_the_deployment_default_for_an_empty_tenant():
    defaults = RoutingDefaults(default_model="d/deploy")
    assert route(make_inputs(defaults=defaults)).candidates == ("d/deploy",)


def test_round_robin_interleaves_by_weight_through_shared_state():
    rotation = MemoryRotation()
    picks = [
        _first(pool=POOL, strategy=RouteStrategy.ROUND_ROBIN, rotation=rotation)
        for _ in range(70)
    ]
    assert picks[:7] == [
        "a/one",
        "a/one",
        "b/two",
        "a/one",
        "c/three",
        "a/one",
        "a/one",
    ]
    assert Counter(picks) == {"a/one": 50, "b/two": 10, "c/three": 10}


def test_round_robin_fallbacks_are_heaviest_first_without_advancing():
    pool = (PoolEntry("a/one", 1), PoolEntry("b/two", 1), PoolEntry("c/three", 3))
    rotation = MemoryRotation()
    first = route(
        make_inputs(
            pool=pool,
            strategy=RouteStrategy.ROUND_ROBIN,
            fallback=FallbackStrategy.ROUND_ROBIN,
            rotation=rotation,
        )
    )
    assert first.candidates == ("c/three", "a/one", "b/two")
    second = route(
        make_inputs(pool=pool, strategy=RouteStrategy.ROUND_ROBIN, rotation=rotation)
    )
    assert second.candidates[0] == "a/one"  # one step per job, fallbacks took none


WEIGHTED_TOLERANCE = 0.015  # > 4 standard deviations at N = 20,000


def test_weighted_draws_match_the_weights_within_tolerance():
    pool = (PoolEntry("a/one", 6), PoolEntry("b/two", 3), PoolEntry("c/three", 1))
    inputs = make_inputs(pool=pool, strategy=RouteStrategy.WEIGHTED, seed=7)
    draws = 20_000
    counts = Counter(route(inputs).candidates[0] for _ in range(draws))
    for entry in pool:
        assert counts[entry.model] / draws == pytest.approx(
            entry.weight / 10, abs=WEIGHTED_TOLERANCE
        )


def test_weighted_is_random_but_seedable():
    def picks(seed):
        inputs = make_inputs(pool=POOL, strategy=RouteStrategy.WEIGHTED, seed=seed)
        return [route(inputs).candidates[0] for _ in range(50)]

    assert picks(3) == picks(3)
    assert picks(3) != picks(4)


def test_multi_model_picks_the_tier_of_the_request_class():
    pool = (
        PoolEntry("g/general"),
        PoolEntry("c/coder", tier=RequestClass.CODE),
        PoolEntry("r/thinker", tier=RequestClass.REASONING),
    )
    code = route(
        make_inputs(
            chat("```py\nprint(1)\n```"), pool=pool, strategy=RouteStrategy.MULTI_MODEL
        )
    )
    assert code.candidates[0] == "c/coder"
    assert code.request_class == "code"
    thinking = route(
        make_inputs(
            chat("prove it step by step"), pool=pool, strategy=RouteStrategy.MULTI_MODEL
        )
    )
    assert thinking.candidates[0] == "r/thinker"


def test_multi_model_without_the_tier_prefers_untiered_models():
    pool = (PoolEntry("c/coder", tier=RequestClass.CODE), PoolEntry("g/general"))
    decision = route(
        make_inputs(
            chat("hi"),
            pool=pool,
            strategy=RouteStrategy.MULTI_MODEL,
            fallback=FallbackStrategy.MULTI_MODEL,
        )
    )
    assert decision.candidates == ("g/general", "c/coder")
    assert "no chat tier" in decision.reason


def test_fallback_none_leaves_one_candidate():
    decision = route(
        make_inputs(
            pool=POOL,
            strategy=RouteStrategy.ROUND_ROBIN,
            fallback=FallbackStrategy.NONE,
        )
    )
    assert len(decision.candidates) == 1


def test_every_strategy_lists_every_candidate_once():
    catalog = [model(e.model) for e in POOL]
    for strategy in RouteStrategy:
        decision = route(
            make_inputs(
                pool=POOL, catalog=catalog, strategy=strategy, rotation=MemoryRotation()
            )
        )
        assert sorted(decision.candidates) == sorted(e.model for e in POOL), strategy


def test_rng_is_the_only_randomness():
    inputs = make_inputs(pool=POOL, strategy=RouteStrategy.WEIGHTED)
    state = random.getstate()
    route(inputs)
    assert random.getstate() == state
