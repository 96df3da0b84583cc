from decimal import Decimal
from pathlib import Path

import pytest

from shared.cost import estimated_cost_usd
from shared.routing.catalog import (
    load_snapshot,
    parse_model,
    parse_models,
    parse_price,
)

SNAPSHOT = Path(__file__).parents[3] / "simulator" / "data" / "openrouter-models.json"


def test_prices_are_exact_decimals_from_the_strings():
    info = parse_model(
        {"id": "a/b", "pricing": {"prompt": "0.00000025", "completion": "0.00000125"}}
    )
    assert info.prompt_price == Decimal("0.00000025")
    assert info.completion_price == Decimal("0.00000125")
    assert str(info.prompt_price) == "2.5E-7"  # not float's 2.4999999e-07


def test_missing_price_keys_mean_zero():
    info = parse_model({"id": "a/b", "pricing": {"prompt": "0.000001"}})
    assert info.completion_price == Decimal(0)
    assert info.request_price == Decimal(0)


def test_minus_one_is_a_variable_price_with_no_estimate():
    info = parse_model(
        {"id": "openrouter/auto", "pricing": {"prompt": "-1", "completion": "-1"}}
    )
    assert info.is_variable_price
    assert estimated_cost_usd(info, prompt_tokens=10, completion_tokens=10) is None


def test_openrouter_prefix_is_stripped_but_routers_keep_theirs():
    assert parse_model({"id": "openrouter/anthropic/claude-3.5-sonnet"}).id == (
        "anthropic/claude-3.5-sonnet"
    )
    assert parse_model({"id": "openrouter/auto"}).id == "openrouter/auto"


def test_estimated_cost_adds_prompt_completion_and_request_prices():
    info = parse_model(
        {
            "id": "a/b",
            "pricing": {
                "prompt": "0.000002",
                "completion": "0.000012",
                "request": "0.01",
            },
        }
    )
    cost = estimated_cost_usd(info, prompt_tokens=45_338, completion_tokens=4_329)
    # The real capture in reference §2.4 (0.090676 + 0.051948) plus the request fee.
    assert cost == Decimal("0.152624")


def test_float_prices_go_through_their_shortest_text():
    assert parse_price(0.1) == Decimal("0.1")


def test_garbage_price_is_refused():
    with pytest.raises(ValueError, match="not a decimal"):
        parse_price("cheap")


def test_entry_without_id_is_refused():
    with pytest.raises(ValueError, match="without an id"):
        parse_model({"name": "nameless"})


def test_listing_body_and_bare_list_both_parse():
    raw = {
        "id": "a/b",
        "context_length": 8192,
        "top_provider": {"max_completion_tokens": 1024},
    }
    (from_body,) = parse_models({"data": [raw]})
    (from_list,) = parse_models([raw])
    assert from_body == from_list
    assert from_body.context_length == 8192
    assert from_body.max_completion_tokens == 1024


def test_bundled_snapshot_loads_every_model():
    models = load_snapshot(SNAPSHOT)
    assert len(models) == 73
    auto = next(m for m in models if m.id == "openrouter/auto")
    assert auto.is_variable_price
    assert all(m.supported_parameters is None for m in models)  # not in the snapshot
