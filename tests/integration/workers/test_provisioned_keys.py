"""Provisioned OpenRouter keys kept in step with tenants' budgets: a key made for
a tenant with a budget and none, its limit changed with the budget, an operator's
key left alone, and the upstream's refusal logged without stopping the others."""

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from shared.db.models import Tenant
from shared.openrouter_key_store import set_openrouter_key
from shared.sealing import SecretBox
from workers.maintenance.provisioned_keys import sync_provisioned_keys
from workers.openrouter.key_provisioning import ProvisioningApi

BASE_URL = "https://openrouter.test/api/v1"
MANAGEMENT_KEY = SecretStr("sk-or-v1-management-key-of-the-tests")
BOX = SecretBox("the sealing key of the provisioning tests")


class FakeKeysApi:
    """OpenRouter's /keys as far as provisioning uses it; records each request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.made = 0
        self.refuse = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        self.requests.append((request.method, request.url.path, body))
        assert request.headers["Authorization"] == (
            f"Bearer {MANAGEMENT_KEY.get_secret_value()}"
        )
        if self.refuse:
            return httpx.Response(403, json={"error": {"code": 403, "message": "no"}})
        if request.method == "POST":
            self.made += 1
            key = f"sk-or-v1-provisioned-{self.made:04d}-0123456789abcdef"
            data = {"hash": f"hash-{self.made}", "label": key[:12]}
            return httpx.Response(201, json={"data": data, "key": key})
        return httpx.Response(200, json={"data": {"hash": request.url.path}})


def _api(fake: FakeKeysApi) -> ProvisioningApi:
    client = httpx.Client(transport=httpx.MockTransport(fake))
    return ProvisioningApi(client, BASE_URL, MANAGEMENT_KEY)


def _budget(engine: Engine, tenant: dict[str, Any], usd: str | None) -> None:
    limits = None if usd is None else json.dumps({"monthly_budget_usd": usd})
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE tenants SET limits = CAST(:limits AS jsonb) WHERE id = :id"),
            {"limits": limits, "id": tenant["id"]},
        )


def _row(engine: Engine, tenant: dict[str, Any]) -> Tenant:
    with Session(engine) as session:
        row = session.scalar(select(Tenant).where(Tenant.id == tenant["id"]))
        assert row is not None
        return row


def test_a_tenant_with_a_budget_gets_a_key_limited_to_it_kept_in_step(
    worker_process, make_tenant: Callable[[], dict[str, Any]], engine: Engine
) -> None:
    fake = FakeKeysApi()
    budgeted, unbudgeted = make_tenant(), make_tenant()
    _budget(engine, budgeted, "5")

    done = sync_provisioned_keys(worker_process.sessions, _api(fake), BOX)
    again = sync_provisioned_keys(worker_process.sessions, _api(fake), BOX)

    created = [r for r in fake.requests if r[0] == "POST"]
    assert (done.created, again.created, again.updated) == (1, 0, 0)
    assert created == [
        (
            "POST",
            "/api/v1/keys",
            {
                "name": f"helixq tenant {budgeted['slug']}",
                "limit": 5.0,
                "limit_reset": "monthly",
            },
        )
    ]
    row = _row(engine, budgeted)
    assert row.openrouter_key_provisioned_hash == "hash-1"
    assert row.openrouter_key_limit_usd == Decimal(5)
    assert BOX.open(row.openrouter_key_sealed or "").startswith("sk-or-v1-provisioned-")
    assert _row(engine, unbudgeted).openrouter_key_sealed is None

    _budget(engine, budgeted, "12.5")
    changed = sync_provisioned_keys(worker_process.sessions, _api(fake), BOX)
    assert changed.updated == 1
    assert fake.requests[-1] == (
        "PATCH",
        "/api/v1/keys/hash-1",
        {"limit": 12.5, "limit_reset": "monthly"},
    )
    assert _row(engine, budgeted).openrouter_key_limit_usd == Decimal("12.5")
    _budget(engine, budgeted, None)
    sync_provisioned_keys(worker_process.sessions, _api(fake), BOX)
    assert fake.requests[-1][2] == {"limit": None, "limit_reset": None}


def test_an_operator_key_is_left_alone_and_a_refusal_is_skipped(
    worker_process, make_tenant: Callable[[], dict[str, Any]], engine: Engine
) -> None:
    fake = FakeKeysApi()
    operator_keyed, refused = make_tenant(), make_tenant()
    _budget(engine, operator_keyed, "5")
    _budget(engine, refused, "5")
    with Session(engine) as session, session.begin():
        row = session.scalar(select(Tenant).where(Tenant.id == operator_keyed["id"]))
        assert row is not None
        set_openrouter_key(row, "sk-or-v1-" + "0f" * 32, box=BOX, now=row.created_at)
    fake.refuse = True

    done = sync_provisioned_keys(worker_process.sessions, _api(fake), BOX)

    assert done.created == 0
    assert done.failed >= 1  # the refused tenant was tried, and logged
    names = [body.get("name") for _, _, body in fake.requests]
    assert f"helixq tenant {refused['slug']}" in names
    assert f"helixq tenant {operator_keyed['slug']}" not in names
    assert _row(engine, refused).openrouter_key_sealed is None
    assert _row(engine, operator_keyed).openrouter_key_provisioned_hash is None


def test_a_daily_or_weekly_budget_gets_no_monthly_upstream_limit(
    worker_process, make_tenant: Callable[[], dict[str, Any]], engine: Engine
) -> None:
    """OpenRouter's limit would reset monthly: a day's budget must not become the
    month's, so such a budget is kept by helixq's own ledger alone."""
    fake = FakeKeysApi()
    slugs, ids = [], []
    for period in ("day", "week"):
        tenant = make_tenant()
        slugs.append(tenant["slug"])
        ids.append(tenant["id"])
        limits = {"monthly_budget_usd": "5", "budget_period": period}
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE tenants SET limits = CAST(:l AS jsonb) WHERE id = :id"),
                {"l": json.dumps(limits), "id": tenant["id"]},
            )
    sync_provisioned_keys(worker_process.sessions, _api(fake), BOX)
    named = [body.get("name", "") for _, _, body in fake.requests]
    assert [name for name in named if name.endswith(tuple(slugs))] == []
    assert all(_row(engine, {"id": t}).openrouter_key_sealed is None for t in ids)
