"""The dashboard: a public page and assets, data behind the admin token or a key."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from shared.db.models import Attempt, Job
from tests.integration.api.conftest import ADMIN_TOKEN, TenantCredentials
from tests.job_rows import add_job_with_attempt

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _finish_jobs(engine: Engine, slug: str, *, failed: bool) -> str:
    """Two finished jobs with an attempt each, on a model named after the tenant."""
    model = f"test/{slug}"
    now = datetime.now(UTC)
    for number, latency_ms in enumerate((100, 300)):
        is_failed = failed and number == 0
        add_job_with_attempt(
            engine,
            slug,
            status="failed" if is_failed else "succeeded",
            model=model,
            error_code="upstream_bad_request" if is_failed else None,
            error_message="the model refused" if is_failed else None,
            finished_at=now - timedelta(minutes=number),
            attempt={
                "outcome": "permanent" if is_failed else "succeeded",
                "latency_ms": latency_ms,
                "cost_usd": Decimal("0.0015"),
                "started_at": now,
            },
        )
    return model


async def test_page_and_assets_are_served_without_a_token(api) -> None:
    page = await api.get("/dashboard")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'src="dashboard/assets/charts.js"' in page.text
    for name, kind in [("charts.js", "javascript"), ("dashboard.css", "css")]:
        asset = await api.get(f"/dashboard/assets/{name}")
        assert asset.status_code == 200
        assert kind in asset.headers["content-type"]


@pytest.mark.parametrize("name", ["index.html", "..%2Froutes.py", "nope.js"])
async def test_unknown_assets_are_404(api, name: str) -> None:
    assert (await api.get(f"/dashboard/assets/{name}")).status_code == 404


async def test_data_needs_the_admin_token_or_a_key(api) -> None:
    missing = await api.get("/dashboard/data")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_api_key"
    wrong = await api.get("/dashboard/data", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


async def test_unknown_window_is_422(api) -> None:
    response = await api.get("/dashboard/data?window=2y", headers=ADMIN)
    assert response.status_code == 422


async def test_a_tenant_sees_only_its_own_data(
    api, engine, tenant: TenantCredentials, other_tenant: TenantCredentials
) -> None:
    mine = _finish_jobs(engine, tenant.slug, failed=True)
    theirs = _finish_jobs(engine, other_tenant.slug, failed=True)
    response = await api.get("/dashboard/data?window=15m", headers=tenant.headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["scope"] == tenant.slug
    assert [m["model"] for m in data["models"]] == [mine]
    assert {f["tenant"] for f in data["failures"]} == {tenant.slug}
    assert [q["tenant"] for q in data["queues"]] == [tenant.slug]
    assert theirs not in response.text


async def test_admin_sees_every_tenant_with_percentiles_and_cost(
    api, engine, tenant: TenantCredentials, other_tenant: TenantCredentials
) -> None:
    first = _finish_jobs(engine, tenant.slug, failed=True)
    second = _finish_jobs(engine, other_tenant.slug, failed=False)
    response = await api.get("/dashboard/data", headers=ADMIN)
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["scope"], data["window"], data["bucket_s"]) == (
        "all tenants",
        "1h",
        60,
    )
    models = {m["model"]: m for m in data["models"]}
    assert models[first]["attempts"] == 2
    assert models[first]["failed"] == 1
    assert models[first]["p50_ms"] == 200
    assert models[first]["p95_ms"] == pytest.approx(290)
    assert Decimal(models[first]["cost_usd"]) == Decimal("0.003")
    assert sum(p["attempts"] for p in models[second]["points"]) == 2
    failures = [f for f in data["failures"] if f["tenant"] == tenant.slug]
    assert failures[0]["error_message"] == "the model refused"
    assert len(data["throughput"]) == 60
    assert sum(p["succeeded"] + p["failed"] for p in data["throughput"]) >= 4


# In flight, or cut off by a stopping (or dead) worker: neither is the model's doing.
@pytest.mark.parametrize("outcome", ["started", "interrupted"])
async def test_a_call_without_an_answer_is_an_attempt_but_not_a_failure(
    api, engine, tenant: TenantCredentials, outcome: str
) -> None:
    model = _finish_jobs(engine, tenant.slug, failed=False)
    with Session(engine) as session, session.begin():
        job = session.scalars(select(Job).where(Job.model == model)).first()
        assert job is not None
        session.add(
            Attempt(
                job_id=job.id,
                number=2,
                model=model,
                outcome=outcome,
                started_at=datetime.now(UTC),
            )
        )
    response = await api.get("/dashboard/data?window=15m", headers=tenant.headers)

    [stats] = response.json()["models"]
    assert (stats["attempts"], stats["failed"]) == (3, 0)
    assert stats["p50_ms"] == 200  # no latency yet: not in the percentiles


async def test_a_model_with_only_calls_in_flight_has_no_latency_yet(
    api, engine, tenant: TenantCredentials
) -> None:
    model = f"test/{tenant.slug}-in-flight"
    add_job_with_attempt(
        engine,
        tenant.slug,
        status="running",
        model=model,
        attempt={"outcome": "started"},
    )
    for headers in (tenant.headers, ADMIN):
        response = await api.get("/dashboard/data?window=15m", headers=headers)
        assert response.status_code == 200, response.text
        stats = {m["model"]: m for m in response.json()["models"]}[model]
        assert (stats["attempts"], stats["failed"]) == (1, 0)
        assert (stats["p50_ms"], stats["p95_ms"]) == (None, None)
        [point] = stats["points"]
        assert (point["attempts"], point["p50_ms"], point["p95_ms"]) == (1, None, None)
