"""Routing under an allow-list: every strategy chooses only among allowed models."""

import pytest

from shared.errors import ModelNotAllowed
from shared.model_access import (
    allowed_of,
    effective_allowed,
    parse_allowed_models,
    with_allowed,
)
from shared.routing.pool import PoolEntry
from shared.routing.router import candidate_models, reorder_after_failure, route
from shared.routing.validation import check_allowed_models
from shared.strategies import FallbackStrategy, ModelSubstitution, RouteStrategy
from tests.unit.routing.builders import chat, make_inputs, model, stats

CHEAP, MID, DEAR = "a/cheap", "b/mid", "c/dear"
CATALOG = [
    model(CHEAP, "0.0000001", "0.0000001"),
    model(MID, "0.000001", "0.000001"),
    model(DEAR, "0.00001", "0.00001"),
]
POOL = tuple(PoolEntry(m) for m in (CHEAP, MID, DEAR))
ALLOWED = {"allowed_models": [MID, DEAR]}


@pytest.mark.parametrize("strategy", list(RouteStrategy))
def test_every_strategy_chooses_only_among_allowed_models(strategy):
    inputs = make_inputs(
        pool=POOL,
        strategy=strategy,
        fallback=FallbackStrategy.COST_OPTIMIZED,
        catalog=CATALOG,
        performance={CHEAP: stats(50), MID: stats(900), DEAR: stats(800)},
        override=ALLOWED,
    )
    decision = route(inputs)
    assert set(decision.candidates) <= {MID, DEAR}, decision
    assert CHEAP not in decision.candidates


def test_cost_optimized_picks_the_cheapest_allowed_not_the_cheapest():
    inputs = make_inputs(
        pool=POOL,
        strategy=RouteStrategy.COST_OPTIMIZED,
        catalog=CATALOG,
        override=ALLOWED,
    )
    assert route(inputs).candidates[0] == MID
    unrestricted = make_inputs(
        pool=POOL, strategy=RouteStrategy.COST_OPTIMIZED, catalog=CATALOG
    )
    assert route(unrestricted).candidates[0] == CHEAP


def test_substitution_on_failure_adds_only_allowed_models():
    inputs = make_inputs(
        chat(model=MID),
        pool=POOL,
        default_model=CHEAP,
        model_substitution=ModelSubstitution.ON_FAILURE,
        override=ALLOWED,
    )
    decision = route(inputs)
    assert decision.candidates == (MID, DEAR)
    after = reorder_after_failure(
        decision, inputs, failed_model=MID, error_code="upstream_unavailable"
    )
    assert after.next_model() == DEAR


def test_with_no_allowed_candidate_the_list_itself_is_routed():
    # The tenant's default is not on the key's list: the list stands in for it.
    inputs = make_inputs(default_model=CHEAP)
    ids = candidate_models(
        chat(), inputs.tenant, inputs.defaults, inputs.catalog, [DEAR]
    )
    assert ids == [DEAR]


def test_a_request_naming_a_model_outside_the_list_is_refused_naming_the_list():
    with pytest.raises(ModelNotAllowed) as refused:
        check_allowed_models(chat(model="openrouter/a/cheap"), (MID, DEAR))
    assert refused.value.code == "model_not_allowed"
    assert refused.value.details == {"model": "a/cheap", "allowed_models": [MID, DEAR]}
    assert MID in refused.value.message
    assert DEAR in refused.value.message
    with pytest.raises(ModelNotAllowed):
        check_allowed_models(chat(models=[MID, CHEAP]), (MID, DEAR))
    check_allowed_models(chat(model=f"openrouter/{MID}"), (MID, DEAR))
    check_allowed_models(chat(), (MID,))
    check_allowed_models(chat(model=CHEAP), None)


def test_the_key_list_narrows_the_tenant_list():
    assert effective_allowed(None, None) is None
    assert effective_allowed([CHEAP, MID], None) == (CHEAP, MID)
    assert effective_allowed(None, [DEAR]) == (DEAR,)
    assert effective_allowed([CHEAP, MID], [MID, DEAR]) == (MID,)


def test_the_list_travels_in_the_stored_route():
    assert with_allowed(None, None) is None
    stored = with_allowed({"strategy": "basic"}, (MID,))
    assert stored == {"strategy": "basic", "allowed_models": [MID]}
    assert allowed_of(stored) == (MID,)
    assert allowed_of({"strategy": "basic"}) is None
    assert parse_allowed_models(" openrouter/a/cheap, b/mid,,a/cheap ") == [CHEAP, MID]
