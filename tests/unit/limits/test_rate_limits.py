"""Limit configuration and the conformance arithmetic (pure)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared import budget
from shared.rate_limits import (
    Rate,
    ScopeLimit,
    TenantLimits,
    bucket_specs,
    estimated_tokens,
    parse_limits,
    provider_of,
)
from shared.token_bucket import worst_window


def test_parse_limits_reads_rates_bursts_and_models():
    table = parse_limits("openai=600rpm/2000000tpm/burst=50, openai/gpt-4o=2rps")

    assert table["openai"] == ScopeLimit(
        requests=Rate(per_s=10.0, burst=50.0),
        tokens=Rate(per_s=2_000_000 / 60, burst=2_000_000 / 60 * 6),
    )
    assert table["openai/gpt-4o"] == ScopeLimit(requests=Rate(per_s=2.0, burst=2.0))


@pytest.mark.parametrize(
    "text",
    [
        "openai",
        "openai=",
        "openai=10rph",
        "openai=-1rpm",
        "x=1rpm/size=3",
        "openai=0.0001rpm",  # less than one a day
        "openai=0." + "0" * 320 + "1tps",
    ],
)
def test_parse_limits_rejects_bad_text(text):
    with pytest.raises(ValueError, match="limit"):
        parse_limits(text)


def test_provider_is_the_model_id_prefix_without_openrouter():
    assert provider_of("openrouter/anthropic/claude-3.5-sonnet") == "anthropic"
    assert provider_of("openai/gpt-4o") == "openai"
    assert provider_of("openrouter/auto") == "openrouter"


def test_bucket_specs_cover_provider_and_model_with_token_cost():
    table = parse_limits("openai=60rpm/6000tpm,openai/gpt-4o=6rpm")

    specs = bucket_specs("openai/gpt-4o", tokens=300, table=table, prefix="tenant:a:")

    assert [(s.scope, s.cost) for s in specs] == [
        ("tenant:a:openai:rpm", 1.0),
        ("tenant:a:openai:tpm", 300),
        ("tenant:a:openai/gpt-4o:rpm", 1.0),
    ]
    assert bucket_specs("anthropic/claude", tokens=1, table=table) == []


def test_estimated_tokens_count_prompt_chars_and_max_tokens():
    request = {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 50}

    prompt, completion = estimated_tokens(request)

    assert prompt > 100
    assert completion == 50


def test_tenant_limits_validate_their_provider_text():
    limits = TenantLimits(monthly_budget_usd=Decimal("5"), providers="openai=60rpm")

    assert limits.provider_table["openai"].requests == Rate(per_s=1.0, burst=1.0)
    with pytest.raises(ValidationError):
        TenantLimits(providers="openai=lots")
    with pytest.raises(ValidationError):
        TenantLimits(max_queued=-1)


def test_the_slowest_rate_is_one_a_day():
    assert parse_limits("openai=0.0007rpm")["openai"].requests is not None
    assert TenantLimits(submit_per_s=1 / 86_400).submit_rate is not None
    with pytest.raises(ValidationError, match="submit_per_s"):
        TenantLimits(submit_per_s=1 / 86_401)


def test_a_submit_burst_fits_a_float():
    with pytest.raises(ValidationError, match="submit_burst"):
        TenantLimits(submit_per_s=1, submit_burst=10**400)


@pytest.mark.parametrize("budget_usd", ["9000000.01", "1e100000"])
def test_a_monthly_budget_stays_exact_in_nano_usd(budget_usd):
    assert budget.to_nano(Decimal(9_000_000)) < 2**53
    with pytest.raises(ValidationError, match="monthly_budget_usd"):
        TenantLimits(monthly_budget_usd=Decimal(budget_usd))


def test_submit_rate_defaults_its_burst_to_one_second():
    assert TenantLimits(submit_per_s=5).submit_rate == Rate(per_s=5, burst=5.0)
    assert TenantLimits().submit_rate is None


def test_worst_window_finds_the_densest_window():
    evenly = [i * 0.1 for i in range(100)]  # 10/s
    assert worst_window(evenly, per_s=10).excess == pytest.approx(1.0)
    burst_then_even = [0.0] * 5 + [0.1 * i for i in range(1, 50)]
    assert worst_window(burst_then_even, per_s=10).excess == pytest.approx(5.0)
    # Eight a second, then four at once: those four are the window named.
    bunched = [i / 8 for i in range(40)] + [5.0] * 4 + [5 + i / 8 for i in range(1, 9)]
    window = worst_window(bunched, per_s=8)
    assert (window.excess, window.first, window.last) == (4.0, 40, 43)
    assert worst_window([], per_s=10).excess == 0.0


@pytest.mark.parametrize(
    ("month", "start", "end"),
    [
        (
            "2026-11",
            datetime(2026, 11, 1, tzinfo=UTC),
            datetime(2026, 12, 1, tzinfo=UTC),
        ),
        (
            "2026-12",
            datetime(2026, 12, 1, tzinfo=UTC),
            datetime(2027, 1, 1, tzinfo=UTC),
        ),
    ],
)
def test_a_budget_month_runs_from_its_first_day_to_the_next_month(month, start, end):
    assert budget.month_bounds(month) == (start, end)
