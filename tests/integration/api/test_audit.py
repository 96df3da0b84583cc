"""The audit trail: every state-changing admin and key route writes an entry in the
transaction of its change, the table refuses changes, and the read routes filter,
page and keep tenants apart."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from broker_api.app import create_app
from broker_api.settings import ApiSettings
from shared.db.models import AuditEvent
from tests.factories import unique_name
from tests.integration.api.conftest import ADMIN_TOKEN, admin_creates_tenant

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
STATE_CHANGING = {"post", "put", "patch", "delete"}
OPENROUTER_KEY = "sk-or-v1-" + "0123456789abcdef" * 4  # a canary: never in the trail

# A request that succeeds, for every state-changing route under /admin and
# /v1/keys; a route missing here fails the enumeration test.
Body = Callable[[], dict[str, Any]]
EXAMPLES: dict[str, Body] = {
    "POST /admin/tenants": lambda: {"name": unique_name()},
    "POST /admin/tenants/{slug}/keys": lambda: {"name": "second"},
    "POST /admin/tenants/{slug}/keys/{prefix}/rotate": lambda: {"overlap_s": 60},
    "DELETE /admin/tenants/{slug}/keys/{prefix}": dict,
    "PUT /admin/tenants/{slug}/routing": lambda: {"route_strategy": "cost_optimized"},
    "PUT /admin/tenants/{slug}/limits": lambda: {"max_queued": 10},
    "PUT /admin/tenants/{slug}/allowed-models": lambda: {"models": None},
    "PUT /admin/tenants/{slug}/openrouter-key": lambda: {"key": OPENROUTER_KEY},
    "DELETE /admin/tenants/{slug}/openrouter-key": dict,
    "POST /admin/secrets/reseal": dict,
    "POST /v1/keys": lambda: {"scopes": ["read"]},
    "POST /v1/keys/{prefix}/rotate": lambda: {"overlap_s": 0},
    "DELETE /v1/keys/{prefix}": dict,
}


def _audited_routes(settings: ApiSettings) -> list[tuple[str, str]]:
    schema = create_app(settings).openapi()
    return [
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        if path.startswith(("/admin", "/v1/keys"))
        for method in operations
        if method in STATE_CHANGING
    ]


def _last_id(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0))) or 0


def _entries_after(engine: Engine, last_id: int) -> list[AuditEvent]:
    with Session(engine) as session:
        query = select(AuditEvent).where(AuditEvent.id > last_id)
        return list(session.scalars(query.order_by(AuditEvent.id)))


async def test_every_state_changing_admin_and_key_route_writes_an_audit_entry(
    api: httpx.AsyncClient, api_settings: ApiSettings, engine: Engine
) -> None:
    routes = _audited_routes(api_settings)
    assert len(routes) >= len(EXAMPLES) - 1, routes
    for method, template in routes:
        route = f"{method} {template}"
        assert route in EXAMPLES, f"give {route} an example request in EXAMPLES"
        issued = await admin_creates_tenant(api)
        path = template.replace("{slug}", issued["tenant"]["slug"])
        path = path.replace("{prefix}", issued["prefix"])
        headers = (
            {"Authorization": f"Bearer {issued['key']}"}
            if template.startswith("/v1/")
            else ADMIN
        )
        before = _last_id(engine)
        body = EXAMPLES[route]()
        answer = await api.request(
            method, path, json=body if method != "DELETE" else None, headers=headers
        )
        assert answer.status_code < 300, (route, answer.text)
        entries = _entries_after(engine, before)
        assert entries, f"{route} changed state without an audit entry"
        trail = str([(e.before, e.after) for e in entries])
        assert issued["key"] not in trail
        assert OPENROUTER_KEY not in trail


async def test_the_trail_refuses_update_delete_and_truncate(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    await admin_creates_tenant(api)
    for statement in (
        "UPDATE audit_events SET actor = 'someone'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ):
        with engine.connect() as connection, pytest.raises(DBAPIError) as refused:
            connection.execute(text(statement))
        assert "append-only" in str(refused.value), statement
    assert _last_id(engine) > 0


async def test_a_refused_change_writes_no_entry(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    before = _last_id(engine)
    answer = await api.put(
        "/admin/tenants/nobody-here/limits", json={"max_queued": 1}, headers=ADMIN
    )
    assert answer.status_code == 404
    assert _entries_after(engine, before) == []


async def test_an_entry_names_actor_action_target_source_and_the_change(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    issued = await admin_creates_tenant(api)
    slug = issued["tenant"]["slug"]
    before = _last_id(engine)
    answer = await api.put(
        f"/admin/tenants/{slug}/limits", json={"max_queued": 7}, headers=ADMIN
    )
    assert answer.status_code == 200, answer.text
    [entry] = _entries_after(engine, before)
    assert (entry.actor, entry.action, entry.target, entry.tenant) == (
        "admin",
        "tenant.limits.update",
        f"tenant:{slug}",
        slug,
    )
    assert entry.before == {"limits": None}
    assert entry.after == {"limits": {"max_queued": 7}}
    assert entry.source  # the client's address
    assert entry.at is not None


async def test_admin_audit_filters_and_pages_with_a_cursor(
    api: httpx.AsyncClient,
) -> None:
    issued = await admin_creates_tenant(api)
    slug = issued["tenant"]["slug"]
    for name in ("one", "two", "three"):
        created = await api.post(
            f"/admin/tenants/{slug}/keys", json={"name": name}, headers=ADMIN
        )
        assert created.status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"tenant": slug, "action": "key.create", "limit": "2"}
        if cursor:
            params["cursor"] = cursor
        page = await api.get("/admin/audit", params=params, headers=ADMIN)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [entry["after"]["name"] for entry in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["three", "two", "one"]
    everything = await api.get("/admin/audit", params={"tenant": slug}, headers=ADMIN)
    actions = [entry["action"] for entry in everything.json()["data"]]
    assert actions == ["key.create"] * 3 + ["tenant.create"]
    until = await api.get(
        "/admin/audit",
        params={"tenant": slug, "until": "2000-01-01T00:00:00Z"},
        headers=ADMIN,
    )
    assert until.json()["data"] == []
    bad = await api.get("/admin/audit", params={"cursor": "abc"}, headers=ADMIN)
    assert bad.status_code == 422
    assert (await api.get("/admin/audit")).status_code == 401


async def test_tenant_sees_only_its_own_key_events(api: httpx.AsyncClient) -> None:
    mine, theirs = await admin_creates_tenant(api), await admin_creates_tenant(api)
    my_headers = {"Authorization": f"Bearer {mine['key']}"}
    created = await api.post("/v1/keys", json={"name": "ci"}, headers=my_headers)
    assert created.status_code == 201, created.text
    await api.put(
        f"/admin/tenants/{mine['tenant']['slug']}/limits",
        json={"max_queued": 5},
        headers=ADMIN,
    )
    await api.post(
        f"/admin/tenants/{theirs['tenant']['slug']}/keys", json={}, headers=ADMIN
    )
    trail = await api.get("/v1/audit", headers=my_headers)
    assert trail.status_code == 200, trail.text
    entries = trail.json()["data"]
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("key.create", mine["prefix"])
    ]
    assert entries[0]["tenant"] == mine["tenant"]["slug"]
    assert "key" not in entries[0]["after"]
