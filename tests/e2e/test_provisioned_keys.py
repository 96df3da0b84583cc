"""Spending limits at the source: with a management key, a tenant with a budget gets
an OpenRouter key of its own limited to it and kept in step with it; once that key
is at its limit, the tenant's jobs end `budget_exceeded` and other tenants go on."""

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
import redis

from tests.e2e.conftest import Client, Stack, own_stack
from tests.e2e.test_batches_webhooks import eventually
from tests.e2e.test_pipeline import submit, wait_terminal
from tests.services import Services, separate_services

pytestmark = pytest.mark.timeout(150)

ADMIN_TOKEN = "admin-token-of-the-provisioning-tests"
MANAGEMENT_KEY = f"sk-or-v1-management-{uuid4().hex}"
MANAGE = {"Authorization": f"Bearer {MANAGEMENT_KEY}"}


@pytest.fixture(scope="module")
def provisioning_stack(services: Services) -> Iterator[Stack]:
    own = separate_services(services, "provisioned")
    redis.Redis.from_url(own.redis_url).flushdb()
    env = {
        "OPENROUTER_MANAGEMENT_KEY": MANAGEMENT_KEY,
        "HELIXQ_KEY_SYNC_INTERVAL_S": "1",
        "HELIXQ_SECRET_KEY": f"{uuid4().hex}{uuid4().hex}",
        "HELIXQ_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    with own_stack(own, "provisioned", env, beat=True) as stack:
        yield stack


@pytest.fixture(scope="module")
def admin(provisioning_stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=provisioning_stack.api_url,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    ) as client:
        yield client


def _tenant(admin: httpx.Client, stack: Stack) -> Client:
    created = admin.post("/admin/tenants", json={"name": f"t-{uuid4().hex[:8]}"})
    assert created.status_code == 201, created.text
    body = created.json()
    http = httpx.Client(
        base_url=stack.api_url,
        headers={"Authorization": f"Bearer {body['key']}"},
        timeout=10,
    )
    return Client(slug=body["tenant"]["slug"], key=body["key"], http=http)


def _upstream_keys(stack: Stack) -> list[dict[str, Any]]:
    response = httpx.get(f"{stack.simulator_url}/api/v1/keys", headers=MANAGE)
    response.raise_for_status()
    keys: list[dict[str, Any]] = response.json()["data"]
    return keys


def _provisioned(admin: httpx.Client, slug: str, limit: str) -> dict[str, Any] | None:
    shown = admin.get(f"/admin/tenants/{slug}/openrouter-key").json()
    key = shown["openrouter_key"]
    if key is None or not key["provisioned"] or key["limit_usd"] is None:
        return None
    return key if float(key["limit_usd"]) == float(limit) else None


def test_a_provisioned_key_at_its_limit_ends_that_tenants_jobs_only(
    provisioning_stack: Stack, admin: httpx.Client
) -> None:
    stack = provisioning_stack
    budgeted, other = _tenant(admin, stack), _tenant(admin, stack)
    limits = admin.put(
        f"/admin/tenants/{budgeted.slug}/limits", json={"monthly_budget_usd": "5"}
    )
    assert limits.status_code == 200, limits.text
    shown = eventually(
        lambda: _provisioned(admin, budgeted.slug, "5"),
        timeout_s=30,
        what="a provisioned key",
    )
    (upstream,) = [
        key
        for key in _upstream_keys(stack)
        if key["name"] == f"helixq tenant {budgeted.slug}"
    ]
    assert (upstream["limit"], upstream["limit_reset"]) == (5, "monthly")
    assert upstream["label"].endswith(shown["hint"][-4:])

    first = wait_terminal(budgeted, submit(budgeted), timeout_s=30)
    assert first["status"] == "succeeded", first
    calls = httpx.get(f"{stack.simulator_url}/_sim/keys").json()["calls"]
    assert calls[upstream["label"]]["by_status"]["200"] == 1

    # Spent elsewhere: OpenRouter now holds the key at its limit.
    spent = httpx.patch(
        f"{stack.simulator_url}/api/v1/keys/{upstream['hash']}",
        json={"limit": 0},
        headers=MANAGE,
    )
    assert spent.status_code == 200
    refused = wait_terminal(budgeted, submit(budgeted), timeout_s=30)
    others = [wait_terminal(other, submit(other), timeout_s=30) for _ in range(3)]

    assert refused["status"] == "failed"
    assert refused["error"]["code"] == "budget_exceeded"
    assert "credit limit" in refused["error"]["message"]  # OpenRouter's refusal
    assert {view["status"] for view in others} == {"succeeded"}

    # A new budget becomes the key's limit at OpenRouter.
    admin.put(
        f"/admin/tenants/{budgeted.slug}/limits", json={"monthly_budget_usd": "7"}
    )
    eventually(
        lambda: _provisioned(admin, budgeted.slug, "7"),
        timeout_s=30,
        what="the new limit",
    )
    (renewed,) = [k for k in _upstream_keys(stack) if k["hash"] == upstream["hash"]]
    assert renewed["limit"] == 7
    for client in (budgeted, other):
        client.http.close()
