"""A tenant's own OpenRouter key over the admin API: set, rotated, cleared and
resealed, sealed at rest and never shown."""

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from shared.db.models import Tenant
from shared.sealing import SecretBox
from shared.upstream_keys import key_label
from tests.factories import unique_name
from tests.integration.api.conftest import ADMIN_TOKEN, SECRET_KEY

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
FIRST = "sk-or-v1-" + "1a2b" * 15 + "9f01"
SECOND = "sk-or-v1-" + "3c4d" * 15 + "7e02"


async def _tenant(api) -> str:
    created = await api.post(
        "/admin/tenants", json={"name": unique_name()}, headers=ADMIN
    )
    return str(created.json()["tenant"]["slug"])


def _row(engine: Engine, slug: str) -> Tenant:
    with Session(engine) as session:
        tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
        assert tenant is not None
        return tenant


async def test_a_tenant_key_is_set_rotated_and_cleared_without_being_shown(
    api, engine: Engine
) -> None:
    slug = await _tenant(api)
    path = f"/admin/tenants/{slug}/openrouter-key"
    unset = await api.get(path, headers=ADMIN)
    assert unset.json() == {"tenant": slug, "openrouter_key": None}

    first = await api.put(path, json={"key": FIRST}, headers=ADMIN)
    assert first.status_code == 200, first.text
    shown = first.json()["openrouter_key"]
    assert shown["hint"] == "sk-or-v1-...9f01"
    assert shown["label"] == key_label(FIRST)
    assert FIRST[9:-4] not in first.text
    row = _row(engine, slug)
    assert row.openrouter_key_sealed is not None
    assert FIRST not in row.openrouter_key_sealed
    assert SecretBox(SECRET_KEY).open(row.openrouter_key_sealed) == FIRST

    rotated = await api.put(path, json={"key": SECOND}, headers=ADMIN)
    assert rotated.json()["openrouter_key"]["hint"] == "sk-or-v1-...7e02"
    assert SecretBox(SECRET_KEY).open(_row(engine, slug).openrouter_key_sealed) == (
        SECOND
    )
    listed = await api.get(path, headers=ADMIN)
    assert listed.json()["openrouter_key"]["label"] == key_label(SECOND)

    cleared = await api.delete(path, headers=ADMIN)
    assert cleared.json() == {"tenant": slug, "openrouter_key": None}
    row = _row(engine, slug)
    assert (row.openrouter_key_sealed, row.openrouter_key_label) == (None, None)


async def test_a_value_that_is_not_an_openrouter_key_is_refused_unechoed(
    api, engine: Engine
) -> None:
    slug = await _tenant(api)
    helixq_key = "hqk_0123abcd_looks-like-a-helixq-client-key"
    response = await api.put(
        f"/admin/tenants/{slug}/openrouter-key",
        json={"key": helixq_key},
        headers=ADMIN,
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_openrouter_key"
    assert "sk-or-v1-" in error["message"]
    assert helixq_key not in response.text
    assert _row(engine, slug).openrouter_key_sealed is None


async def test_the_key_routes_need_the_admin_token_and_a_known_tenant(api) -> None:
    slug = await _tenant(api)
    path = f"/admin/tenants/{slug}/openrouter-key"
    assert (await api.put(path, json={"key": FIRST})).status_code == 401
    unknown = await api.put(
        "/admin/tenants/nobody-here/openrouter-key", json={"key": FIRST}, headers=ADMIN
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "tenant_not_found"


async def test_without_a_secret_key_a_tenant_key_is_refused_with_409(
    api_settings, enqueuer
) -> None:
    import httpx

    from broker_api.app import create_app

    settings = api_settings.model_copy(update={"helixq_secret_key": None})
    app = create_app(settings, enqueuer=enqueuer)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            slug = await _tenant(api)
            response = await api.put(
                f"/admin/tenants/{slug}/openrouter-key",
                json={"key": FIRST},
                headers=ADMIN,
            )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "secret_key_not_set"
    assert FIRST not in response.text


async def test_reseal_moves_every_key_to_the_first_secret_key(
    api, api_settings, engine: Engine
) -> None:
    slug = await _tenant(api)
    await api.put(
        f"/admin/tenants/{slug}/openrouter-key", json={"key": FIRST}, headers=ADMIN
    )
    new_secret = "a newer sealing key that is first in the list from now on"
    api_settings.helixq_secret_key = type(api_settings.helixq_secret_key)(
        f"{new_secret},{SECRET_KEY}"
    )
    response = await api.post("/admin/secrets/reseal", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["resealed"] >= 1
    sealed = _row(engine, slug).openrouter_key_sealed
    assert SecretBox(new_secret).open(sealed or "") == FIRST


async def test_no_table_holds_the_key_in_clear(api, engine: Engine) -> None:
    slug = await _tenant(api)
    await api.put(
        f"/admin/tenants/{slug}/openrouter-key", json={"key": FIRST}, headers=ADMIN
    )
    with engine.connect() as connection:
        dumped = connection.execute(
            text("SELECT string_agg(t::text, ' ') FROM tenants t")
        ).scalar_one()
    assert FIRST not in dumped
    assert FIRST[9:] not in dumped
