"""GET /v1/usage and /admin/usage: exact sums, scoped to the caller's tenant."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.integration.monitoring.conftest import ADMIN_HEADERS, by_key

pytestmark = pytest.mark.anyio

TODAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
YESTERDAY = TODAY - timedelta(days=1)


async def test_usage_sums_cost_exactly_per_model(api, tenant, add_attempt) -> None:
    for cost in ("0.000000000001", "0.1", "0.2"):  # 0.1 + 0.2 is not 0.3 in floats
        add_attempt(tenant.slug, started_at=TODAY, cost_usd=Decimal(cost))
    add_attempt(
        tenant.slug,
        started_at=TODAY,
        model="anthropic/claude-3.5-sonnet",
        provider="Anthropic",
        outcome="retryable",
        prompt_tokens=None,
        completion_tokens=None,
        cost_usd=None,
    )
    answer = await api.get("/v1/usage", headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    rows = by_key(report["data"], "model")
    assert rows[("openai/gpt-4o-mini",)]["cost_usd"] == "0.300000000001"
    assert rows[("openai/gpt-4o-mini",)]["requests"] == 3
    assert rows[("openai/gpt-4o-mini",)]["prompt_tokens"] == 30
    assert rows[("anthropic/claude-3.5-sonnet",)] == {
        "model": "anthropic/claude-3.5-sonnet",
        "provider": None,
        "day": None,
        "strategy": None,
        "tenant": None,
        "requests": 1,
        "succeeded": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": "0",
    }
    assert report["totals"]["cost_usd"] == "0.300000000001"
    assert report["totals"]["requests"] == 4


async def test_usage_never_counts_another_tenants_attempts(
    api, tenant, other_tenant, add_attempt
) -> None:
    add_attempt(tenant.slug, started_at=TODAY, cost_usd=Decimal("0.5"))
    add_attempt(other_tenant.slug, started_at=TODAY, cost_usd=Decimal("7"))
    report = (await api.get("/v1/usage", headers=tenant.headers)).json()
    assert report["totals"]["cost_usd"] == "0.5"
    assert report["totals"]["requests"] == 1


async def test_usage_groups_by_day_and_strategy(api, tenant, add_attempt) -> None:
    add_attempt(
        tenant.slug,
        started_at=YESTERDAY,
        cost_usd=Decimal("1"),
        strategy="cost_optimized",
    )
    add_attempt(
        tenant.slug, started_at=TODAY, cost_usd=Decimal("2"), strategy="cost_optimized"
    )
    add_attempt(tenant.slug, started_at=TODAY, cost_usd=Decimal("4"))
    answer = await api.get(
        "/v1/usage", params={"group_by": "day,strategy"}, headers=tenant.headers
    )
    rows = by_key(answer.json()["data"], "day", "strategy")
    today, yesterday = TODAY.date().isoformat(), YESTERDAY.date().isoformat()
    assert {key: row["cost_usd"] for key, row in rows.items()} == {
        (yesterday, "cost_optimized"): "1",
        (today, "cost_optimized"): "2",
        (today, "unrouted"): "4",
    }


async def test_usage_dates_bound_the_report(api, tenant, add_attempt) -> None:
    add_attempt(tenant.slug, started_at=YESTERDAY, cost_usd=Decimal("1"))
    add_attempt(tenant.slug, started_at=TODAY, cost_usd=Decimal("2"))
    day = TODAY.date().isoformat()
    answer = await api.get(
        "/v1/usage", params={"from": day, "to": day}, headers=tenant.headers
    )
    report = answer.json()
    assert (report["start"], report["end"]) == (day, day)
    assert report["totals"]["cost_usd"] == "2"


@pytest.mark.parametrize(
    "params",
    [
        {"group_by": "colour"},
        {"group_by": "tenant"},
        {"from": "2030-01-02", "to": "2030-01-01"},
    ],
)
async def test_usage_refuses_bad_parameters(api, tenant, params) -> None:
    answer = await api.get("/v1/usage", params=params, headers=tenant.headers)
    assert 400 <= answer.status_code < 500
    assert answer.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("path", ["/v1/usage", "/admin/usage"])
@pytest.mark.parametrize(
    "params",
    [
        {"to": "0001-01-01"},
        {"to": "9999-12-31"},
        {"from": "9999-12-31", "to": "9999-12-31"},
    ],
)
async def test_usage_refuses_periods_past_the_calendar(
    api, tenant, path: str, params: dict[str, str]
) -> None:
    headers = ADMIN_HEADERS if path.startswith("/admin") else tenant.headers
    answer = await api.get(path, params=params, headers=headers)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "date_out_of_range"
    assert error["details"] == {"field": "to"}


async def test_usage_reaches_the_ends_of_the_calendar(api, tenant) -> None:
    for first, last in [("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-30")]:
        answer = await api.get(
            "/v1/usage", params={"from": first, "to": last}, headers=tenant.headers
        )
        assert answer.status_code == 200, answer.text
        assert (answer.json()["start"], answer.json()["end"]) == (first, last)


async def test_usage_needs_an_api_key(api) -> None:
    assert (await api.get("/v1/usage")).status_code == 401


async def test_admin_usage_covers_every_tenant(
    api, tenant, other_tenant, add_attempt
) -> None:
    add_attempt(tenant.slug, started_at=TODAY, cost_usd=Decimal("0.25"))
    add_attempt(other_tenant.slug, started_at=TODAY, cost_usd=Decimal("0.75"))
    answer = await api.get(
        "/admin/usage", params={"group_by": "tenant,model"}, headers=ADMIN_HEADERS
    )
    assert answer.status_code == 200, answer.text
    rows = by_key(answer.json()["data"], "tenant")
    assert rows[(tenant.slug,)]["cost_usd"] == "0.25"
    assert rows[(other_tenant.slug,)]["cost_usd"] == "0.75"


async def test_admin_usage_needs_the_admin_token(api, tenant) -> None:
    answer = await api.get("/admin/usage", headers=tenant.headers)
    assert answer.status_code == 401
