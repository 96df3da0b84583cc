"""Tenant quotas at the API: each error through the HTTP client, and GET /v1/limits."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared import budget
from shared.budget_periods import BudgetPeriod, period_of
from tests.factories import make_job_body
from tests.integration.api.conftest import ADMIN_TOKEN
from tests.integration.workers.conftest import insert_attempt

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _set_limits(api, slug, limits):
    response = await api.put(
        f"/admin/tenants/{slug}/limits", json=limits, headers=ADMIN
    )
    assert response.status_code == 200, response.text


async def _submit(api, tenant):
    return await api.post("/v1/jobs", json=make_job_body(), headers=tenant.headers)


async def test_submitting_faster_than_the_rate_is_429_with_retry_after(
    api, api_tenant, redis_client
):
    await _set_limits(api, api_tenant.slug, {"submit_per_s": 0.5, "submit_burst": 2})

    statuses = [(await _submit(api, api_tenant)).status_code for _ in range(2)]
    refused = await _submit(api, api_tenant)

    assert statuses == [202, 202]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "2"


async def test_a_full_queue_is_429_queue_full(api, api_tenant, redis_client):
    await _set_limits(api, api_tenant.slug, {"max_queued": 1})

    accepted = await _submit(api, api_tenant)
    refused = await _submit(api, api_tenant)

    assert accepted.status_code == 202
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "queue_full"
    assert "Retry-After" in refused.headers


async def test_a_spent_budget_is_402_budget_exceeded(api, api_tenant, redis_client):
    await _set_limits(api, api_tenant.slug, {"monthly_budget_usd": "1.00"})
    month = budget.month_of(datetime.now(UTC))
    redis_client.hset(f"broker:tenant:{api_tenant.slug}:budget:{month}", "spent", 10**9)

    refused = await _submit(api, api_tenant)

    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "budget_exceeded"


async def test_a_daily_budget_counts_the_day_and_says_so(api, api_tenant, redis_client):
    limits = {"monthly_budget_usd": "1.00", "budget_period": "day"}
    await _set_limits(api, api_tenant.slug, limits)
    month = budget.month_of(datetime.now(UTC))
    redis_client.hset(f"broker:tenant:{api_tenant.slug}:budget:{month}", "spent", 10**9)
    assert (await _submit(api, api_tenant)).status_code == 202  # the month's spend

    day = period_of(datetime.now(UTC), BudgetPeriod.DAY)
    redis_client.hset(f"broker:tenant:{api_tenant.slug}:budget:{day}", "spent", 10**9)
    refused = await _submit(api, api_tenant)
    usage = (await api.get("/v1/limits", headers=api_tenant.headers)).json()["usage"]

    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["message"].startswith("this tenant's daily budget of $1.00")
    assert error["details"]["budget_period"] == "day"
    assert usage["month"] == day


async def test_a_ledger_redis_lost_is_rebuilt_from_the_attempts(
    api, api_tenant, redis_client, engine
):
    """Redis forgot the month (FLUSHALL, a new server): what Postgres recorded
    still counts, for the 402 at submit and for GET /v1/limits."""
    accepted = await _submit(api, api_tenant)
    insert_attempt(engine, accepted.json()["id"], cost_usd=Decimal("1.25"))
    await _set_limits(api, api_tenant.slug, {"monthly_budget_usd": "1.00"})

    refused = await _submit(api, api_tenant)
    limits = (await api.get("/v1/limits", headers=api_tenant.headers)).json()

    assert refused.status_code == 402
    assert limits["usage"]["spent_usd"] == "1.25"


async def test_limits_are_visible_to_the_tenant(api, api_tenant, redis_client):
    await _set_limits(
        api, api_tenant.slug, {"max_queued": 5, "providers": "openai=60rpm/burst=2"}
    )
    await _submit(api, api_tenant)

    response = await api.get("/v1/limits", headers=api_tenant.headers)

    assert response.status_code == 200
    view = response.json()
    assert view["limits"]["max_queued"] == 5
    assert view["limits"]["providers"] == "openai=60rpm/burst=2"
    assert view["usage"]["queued"] == 1
    assert view["usage"]["spent_usd"] == "0"


async def test_admin_refuses_unreadable_provider_limits(api, api_tenant):
    response = await api.put(
        f"/admin/tenants/{api_tenant.slug}/limits",
        json={"providers": "openai=lots"},
        headers=ADMIN,
    )

    assert response.status_code == 422


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        ({"submit_per_s": 1e-320}, "body.submit_per_s"),
        ({"submit_per_s": 1, "submit_burst": 10**400}, "body.submit_burst"),
        ({"providers": "openai=0." + "0" * 320 + "1rpm"}, "body.providers"),
        ({"monthly_budget_usd": "1e10000000"}, "body.monthly_budget_usd"),
    ],
)
async def test_limits_past_what_the_buckets_can_count_are_422_and_not_stored(
    api, api_tenant, redis_client, limits, field
):
    response = await api.put(
        f"/admin/tenants/{api_tenant.slug}/limits", json=limits, headers=ADMIN
    )

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert [f["field"] for f in error["details"]["fields"]] == [field]
    stored = await api.get(f"/admin/tenants/{api_tenant.slug}/limits", headers=ADMIN)
    assert set(stored.json().values()) == {None}
    assert (await _submit(api, api_tenant)).status_code == 202
