"""What a job costs (shared.cost): the estimate, the reported cost, the ledger."""

from decimal import Decimal

import pytest

from shared.cost import (
    LEDGER_COST_SQL,
    apportion_usd,
    budget_estimate_usd,
    estimated_cost_usd,
    reported_cost_usd,
)
from shared.routing.catalog import VARIABLE_PRICE, ModelInfo

PRICED = ModelInfo(
    id="openai/gpt-4o-mini",
    name="GPT-4o mini",
    context_length=128_000,
    max_completion_tokens=16_384,
    prompt_price=Decimal("0.00000015"),
    completion_price=Decimal("0.0000006"),
    request_price=Decimal("0.001"),
)
ROUTER = ModelInfo(
    id="openrouter/auto",
    name="Auto",
    context_length=None,
    max_completion_tokens=None,
    prompt_price=VARIABLE_PRICE,
    completion_price=VARIABLE_PRICE,
)


def test_the_estimate_is_the_list_price_of_the_tokens_and_the_request() -> None:
    cost = estimated_cost_usd(PRICED, prompt_tokens=1000, completion_tokens=100)
    assert cost == Decimal("0.00015") + Decimal("0.00006") + Decimal("0.001")
    assert estimated_cost_usd(ROUTER, prompt_tokens=1, completion_tokens=1) is None


def test_a_budget_reserves_nothing_for_a_model_it_cannot_price() -> None:
    assert budget_estimate_usd(None, prompt_tokens=10, completion_tokens=10) == 0
    assert budget_estimate_usd(ROUTER, prompt_tokens=10, completion_tokens=10) == 0
    assert budget_estimate_usd(
        PRICED, prompt_tokens=1000, completion_tokens=100
    ) == estimated_cost_usd(PRICED, prompt_tokens=1000, completion_tokens=100)


@pytest.mark.parametrize(
    ("usage", "cost"),
    [
        ({"cost": "0.000123"}, Decimal("0.000123")),
        ({"cost": 1.5e-05}, Decimal("1.5e-05")),  # the digits JSON carried
        ({"cost": 0}, Decimal(0)),
        ({"cost": True}, None),
        ({"cost": "n/a"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_the_reported_cost_is_exact_or_absent(usage: object, cost: object) -> None:
    assert reported_cost_usd(usage) == cost


def test_a_jobs_cost_sums_every_attempt_failed_ones_included() -> None:
    # No outcome filter: a failed call OpenRouter billed is part of the job's cost.
    assert "outcome" not in LEDGER_COST_SQL
    assert "sum(" in LEDGER_COST_SQL


def test_an_upstream_batch_cost_is_apportioned_so_the_lines_sum_exactly() -> None:
    total = Decimal("0.000123456789")
    weights = [Decimal("0.00001"), Decimal("0.00002"), Decimal("0.00004")]

    shares = apportion_usd(total, weights)

    assert sum(shares) == total
    assert shares[2] > shares[1] > shares[0]
    assert all(share == share.quantize(Decimal("1e-12")) for share in shares)


def test_apportioning_without_weights_splits_evenly_and_exactly() -> None:
    shares = apportion_usd(Decimal("0.000000000010"), [Decimal(0)] * 3)

    assert sum(shares) == Decimal("0.000000000010")
    assert max(shares) - min(shares) <= Decimal("1e-12")
