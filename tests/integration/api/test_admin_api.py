"""Operator endpoints: tenants and keys behind the admin token."""

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from shared.db.models import ApiKey, Tenant
from tests.factories import make_job_body, unique_name
from tests.integration.api.conftest import ADMIN_TOKEN

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_admin_creates_a_tenant_whose_key_works(api) -> None:
    name = unique_name("Acme Corp")
    created = await api.post("/admin/tenants", json={"name": name}, headers=ADMIN)
    assert created.status_code == 201, created.text
    issued = created.json()
    assert issued["tenant"]["slug"] == name.lower().replace(" ", "-")
    headers = {"Authorization": f"Bearer {issued['key']}"}
    submitted = await api.post("/v1/jobs", json=make_job_body(), headers=headers)
    assert submitted.status_code == 202


async def test_duplicate_tenant_is_409(api) -> None:
    name = unique_name()
    await api.post("/admin/tenants", json={"name": name}, headers=ADMIN)
    again = await api.post("/admin/tenants", json={"name": name}, headers=ADMIN)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "tenant_exists"


async def test_second_key_for_unknown_tenant_is_404(api) -> None:
    response = await api.post("/admin/tenants/nobody-here/keys", json={}, headers=ADMIN)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "tenant_not_found"


async def test_admin_endpoints_refuse_tenant_keys_and_no_token(api) -> None:
    created = await api.post(
        "/admin/tenants", json={"name": unique_name()}, headers=ADMIN
    )
    tenant_key = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await api.get("/admin/tenants", headers=tenant_key)).status_code == 401
    assert (await api.get("/admin/tenants")).status_code == 401


async def test_unknown_strategy_for_a_tenant_is_422(api) -> None:
    body = {"name": unique_name(), "route_strategy": "cheapest"}
    response = await api.post("/admin/tenants", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert (
        response.json()["error"]["details"]["fields"][0]["field"]
        == "body.route_strategy"
    )


@pytest.mark.parametrize(
    "expires_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
)
async def test_a_key_expiring_outside_the_utc_calendar_is_422_and_not_stored(
    api, engine: Engine, expires_at: str
) -> None:
    created = await api.post(
        "/admin/tenants", json={"name": unique_name()}, headers=ADMIN
    )
    slug = created.json()["tenant"]["slug"]
    response = await api.post(
        f"/admin/tenants/{slug}/keys", json={"expires_at": expires_at}, headers=ADMIN
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert [f["field"] for f in error["details"]["fields"]] == ["body.expires_at"]
    with Session(engine) as session:
        keys = session.scalar(
            select(func.count())
            .select_from(ApiKey)
            .join(Tenant, Tenant.id == ApiKey.tenant_id)
            .where(Tenant.slug == slug)
        )
    assert keys == 1  # the tenant's first key only


@pytest.mark.parametrize(
    "expires_at",
    ["9999-12-31T23:59:59", "9999-12-31T23:59:59Z", "2999-01-01T00:00+05:00"],
)
async def test_a_key_expiring_at_the_calendars_end_works(api, expires_at: str) -> None:
    created = await api.post(
        "/admin/tenants", json={"name": unique_name()}, headers=ADMIN
    )
    slug = created.json()["tenant"]["slug"]
    issued = await api.post(
        f"/admin/tenants/{slug}/keys", json={"expires_at": expires_at}, headers=ADMIN
    )
    assert issued.status_code == 201, issued.text
    headers = {"Authorization": f"Bearer {issued.json()['key']}"}
    assert (await api.get("/v1/limits", headers=headers)).status_code == 200
