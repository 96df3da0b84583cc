"""cost_optimized: the cheapest feasible candidate, in every generated case."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.cost import estimated_cost_usd
from shared.routing.features import extract_features
from shared.routing.pool import PoolEntry
from shared.routing.router import route
from shared.strategies import FallbackStrategy, RouteStrategy
from tests.unit.routing.builders import chat, make_inputs, model, stats

COST = RouteStrategy.COST_OPTIMIZED

_models = st.lists(
    st.builds(
        dict,
        prompt=st.integers(0, 50_000),  # micro-dollars per million tokens
        completion=st.integers(0, 50_000),
        context=st.sampled_from([4_096, 8_192, 32_000, 128_000]),
        tools=st.sampled_from([None, ("tools",), ("temperature",)]),
        variable=st.sampled_from([False, False, False, True]),
    ),
    min_size=1,
    max_size=8,
)
_requests = st.builds(
    dict,
    chars=st.integers(1, 40_000),
    max_tokens=st.none() | st.integers(1, 8_000),
    tools=st.booleans(),
)


def _catalog(specs):
    return [
        model(
            f"m/{index}",
            prompt="-1" if spec["variable"] else f"{spec['prompt']}E-12",
            completion="-1" if spec["variable"] else f"{spec['completion']}E-12",
            context_length=spec["context"],
            supported_parameters=spec["tools"],
        )
        for index, spec in enumerate(specs)
    ]


def _request(spec):
    body = chat("x" * spec["chars"])
    if spec["max_tokens"]:
        body["max_tokens"] = spec["max_tokens"]
    if spec["tools"]:
        body["tools"] = [{"type": "function", "function": {"name": "f"}}]
    return body


def _feasible(catalog, body):
    """The oracle, written from the rules rather than from the code under test:
    feasible models and the estimated cost of the priced ones."""
    features = extract_features(body)
    feasible, costs = set(), {}
    for info in catalog:
        fits = (
            features.prompt_tokens + (features.max_output_tokens or 0)
            <= info.context_length
        )
        tools_ok = not features.has_tools or info.supported_parameters in (
            None,
            ("tools",),
        )
        if fits and tools_ok:
            feasible.add(info.id)
            if not info.is_variable_price:
                costs[info.id] = estimated_cost_usd(
                    info,
                    prompt_tokens=features.prompt_tokens,
                    completion_tokens=features.expected_output_tokens,
                )
    return feasible, costs


@settings(max_examples=300, deadline=None)
@given(_models, _requests)
def test_cost_optimized_picks_the_cheapest_feasible_model(model_specs, request_spec):
    catalog = _catalog(model_specs)
    body = _request(request_spec)
    pool = [PoolEntry(info.id) for info in catalog]
    decision = route(
        make_inputs(
            body,
            pool=pool,
            catalog=catalog,
            strategy=COST,
            fallback=FallbackStrategy.COST_OPTIMIZED,
        )
    )
    feasible, costs = _feasible(catalog, body)
    if costs:
        assert costs.get(decision.candidates[0]) == min(costs.values())
        priced = [m for m in decision.candidates if m in costs]
        assert [costs[m] for m in priced] == sorted(costs.values())  # fallbacks too
    elif feasible:  # only variable prices fit: one of them, never an infeasible one
        assert decision.candidates[0] in feasible
    else:
        assert "no candidate fits" in decision.reason
    assert set(decision.candidates) >= feasible


def test_variable_price_is_never_the_cheapest():
    catalog = [
        model("openrouter/auto", "-1", "-1"),
        model("p/pricey", "0.00003", "0.00006"),
    ]
    pool = [PoolEntry(m.id) for m in catalog]
    decision = route(make_inputs(pool=pool, catalog=catalog, strategy=COST))
    assert decision.candidates == ("p/pricey", "openrouter/auto")
    assert decision.notes["openrouter/auto"] == "variable price"


def test_a_model_too_small_for_the_prompt_is_excluded_and_says_why():
    catalog = [
        model("s/small", "0", "0", context_length=100),
        model("b/big", "0.000001", "0.000001"),
    ]
    pool = [PoolEntry(m.id) for m in catalog]
    decision = route(
        make_inputs(chat("x" * 2_000), pool=pool, catalog=catalog, strategy=COST)
    )
    assert decision.candidates == ("b/big",)
    assert decision.notes["s/small"].startswith("excluded: needs ~504 tokens")


def test_output_limit_and_response_format_support_count():
    catalog = [
        model(
            "c/cheap",
            "0",
            "0",
            max_completion_tokens=100,
            supported_parameters=("response_format",),
        ),
        model("n/noformat", "0.000001", "0", supported_parameters=("tools",)),
        model("o/ok", "0.000002", "0"),
    ]
    pool = [PoolEntry(m.id) for m in catalog]
    body = chat("hi", max_tokens=500, response_format={"type": "json_object"})
    assert (
        route(make_inputs(body, pool=pool, catalog=catalog, strategy=COST)).candidates[
            0
        ]
        == "o/ok"
    )


def test_ties_are_broken_by_measured_performance():
    catalog = [model("s/slow"), model("f/fast")]
    pool = [PoolEntry(m.id) for m in catalog]
    performance = {"s/slow": stats(2_000), "f/fast": stats(300)}
    decision = route(
        make_inputs(pool=pool, catalog=catalog, performance=performance, strategy=COST)
    )
    assert decision.candidates[0] == "f/fast"


def test_models_missing_from_the_catalog_come_after_priced_ones():
    catalog = [model("p/priced", "0.001", "0.001")]
    pool = [PoolEntry("u/unknown"), PoolEntry("p/priced")]
    decision = route(
        make_inputs(
            pool=pool,
            catalog=catalog,
            strategy=COST,
            fallback=FallbackStrategy.COST_OPTIMIZED,
        )
    )
    assert decision.candidates == ("p/priced", "u/unknown")


def test_when_nothing_fits_every_candidate_is_still_tried():
    catalog = [model("s/small", context_length=10), model("t/tiny", context_length=20)]
    pool = [PoolEntry(m.id) for m in catalog]
    decision = route(
        make_inputs(chat("x" * 400), pool=pool, catalog=catalog, strategy=COST)
    )
    assert set(decision.candidates) == {"s/small", "t/tiny"}
    assert "no candidate fits" in decision.reason


def test_estimate_note_is_an_exact_decimal():
    catalog = [model("a/a", "0.00000025", "0.00000125")]
    decision = route(
        make_inputs(
            chat("abcd"), pool=[PoolEntry("a/a")], catalog=catalog, strategy=COST
        )
    )
    expected = Decimal("0.00000025") * 5 + Decimal("0.00000125") * 256
    assert decision.notes["a/a"] == f"est. ${expected.normalize():f}"
