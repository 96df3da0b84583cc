"""Key management over the API: list, scopes, per-key rate, rotate with an
overlap, revoke, for the admin and for a tenant's own keys."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import make_job_body
from tests.integration.api.conftest import ADMIN_TOKEN, admin_creates_tenant

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _key(api: httpx.AsyncClient, slug: str, **body: Any) -> dict[str, Any]:
    created = await api.post(f"/admin/tenants/{slug}/keys", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    issued: dict[str, Any] = created.json()
    return issued


async def test_listing_shows_terms_and_last_use_never_a_secret(
    api: httpx.AsyncClient,
) -> None:
    issued = await admin_creates_tenant(api)
    slug = issued["tenant"]["slug"]
    expires = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    second = await _key(
        api, slug, name="ci", expires_at=expires, scopes=["read"], requests_per_minute=5
    )
    assert (await api.get("/v1/limits", headers=_bearer(issued["key"]))).is_success
    listed = await api.get(f"/admin/tenants/{slug}/keys", headers=ADMIN)
    assert listed.status_code == 200, listed.text
    rows = {row["prefix"]: row for row in listed.json()["data"]}
    assert rows[issued["prefix"]]["last_used_at"] is not None
    assert rows[issued["prefix"]]["scopes"] == ["keys", "read", "submit"]
    ci = rows[second["prefix"]]
    assert (ci["name"], ci["scopes"], ci["requests_per_minute"]) == ("ci", ["read"], 5)
    assert ci["status"] == "active"
    assert ci["expires_at"] is not None
    assert ci["last_used_at"] is None
    for secret in (issued["key"], second["key"]):
        assert secret not in listed.text
    assert "hash" not in listed.text
    own = await api.get("/v1/keys", headers=_bearer(issued["key"]))
    assert own.status_code == 200
    assert {row["prefix"] for row in own.json()["data"]} == set(rows)


async def test_a_read_only_key_reads_and_is_refused_submitting(
    api: httpx.AsyncClient,
) -> None:
    issued = await admin_creates_tenant(api)
    submitted = await api.post(
        "/v1/jobs", json=make_job_body(), headers=_bearer(issued["key"])
    )
    assert submitted.status_code == 202
    reader = await _key(api, issued["tenant"]["slug"], scopes=["read"])
    headers = _bearer(reader["key"])
    job = await api.get(f"/v1/jobs/{submitted.json()['id']}", headers=headers)
    assert job.status_code == 200
    for path in ("/v1/jobs", "/v1/chat/completions", "/v1/batches"):
        body = make_job_body()
        if path == "/v1/batches":
            body = {"requests": [{"custom_id": "a", "body": body}]}
        refused = await api.post(path, json=body, headers=headers)
        assert refused.status_code == 403, (path, refused.text)
        error = refused.json()["error"]
        assert error["code"] == "insufficient_scope"
        assert error["details"] == {"required_scope": "submit", "scopes": ["read"]}
    keys = await api.get("/v1/keys", headers=headers)
    assert keys.status_code == 403
    assert keys.json()["error"]["details"]["required_scope"] == "keys"


async def test_a_tenant_key_creates_no_key_wider_than_itself(
    api: httpx.AsyncClient,
) -> None:
    issued = await admin_creates_tenant(api)
    manager = await _key(
        api, issued["tenant"]["slug"], scopes=["keys", "read"], requests_per_minute=50
    )
    headers = _bearer(manager["key"])
    wider = await api.post("/v1/keys", json={"scopes": ["submit"]}, headers=headers)
    assert wider.status_code == 403
    assert wider.json()["error"]["code"] == "insufficient_scope"
    faster = await api.post(
        "/v1/keys", json={"requests_per_minute": 100}, headers=headers
    )
    assert faster.status_code == 422
    created = await api.post("/v1/keys", json={"name": "ro"}, headers=headers)
    assert created.status_code == 201, created.text
    view = created.json()["api_key"]
    assert (view["scopes"], view["requests_per_minute"]) == (["keys", "read"], 50)


async def test_a_key_past_its_own_rate_is_429_until_its_minute_ends(
    api: httpx.AsyncClient,
) -> None:
    issued = await admin_creates_tenant(api)
    limited = await _key(api, issued["tenant"]["slug"], requests_per_minute=2)
    headers = _bearer(limited["key"])
    for _ in range(2):
        accepted = await api.post("/v1/jobs", json=make_job_body(), headers=headers)
        assert accepted.status_code == 202, accepted.text
    refused = await api.post("/v1/jobs", json=make_job_body(), headers=headers)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "key_rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # The tenant's other keys are not slowed.
    other = await api.post(
        "/v1/jobs", json=make_job_body(), headers=_bearer(issued["key"])
    )
    assert other.status_code == 202


async def test_rotation_keeps_the_old_key_for_the_overlap_only(
    api: httpx.AsyncClient,
) -> None:
    issued = await admin_creates_tenant(api)
    slug, old = issued["tenant"]["slug"], issued["key"]
    rotated = await api.post(
        f"/admin/tenants/{slug}/keys/{issued['prefix']}/rotate",
        json={"overlap_s": 3600},
        headers=ADMIN,
    )
    assert rotated.status_code == 201, rotated.text
    body = rotated.json()
    until = datetime.fromisoformat(body["replaces"]["expires_at"])
    assert timedelta(minutes=59) < until - datetime.now(UTC) <= timedelta(hours=1)
    for key in (old, body["key"]):
        answer = await api.post("/v1/jobs", json=make_job_body(), headers=_bearer(key))
        assert answer.status_code == 202
    # The tenant rotates the new key with no overlap: it stops at once.
    again = await api.post(
        f"/v1/keys/{body['prefix']}/rotate",
        json={"overlap_s": 0},
        headers=_bearer(body["key"]),
    )
    assert again.status_code == 201, again.text
    stopped = await api.get("/v1/limits", headers=_bearer(body["key"]))
    assert stopped.status_code == 401
    assert stopped.json()["error"]["message"] == "this API key has expired"
    newest = await api.get("/v1/limits", headers=_bearer(again.json()["key"]))
    assert newest.status_code == 200


async def test_revoked_keys_stop_at_once_and_cannot_be_rotated(
    api: httpx.AsyncClient,
) -> None:
    issued = await admin_creates_tenant(api)
    slug = issued["tenant"]["slug"]
    second = await _key(api, slug)
    assert (await api.get("/v1/limits", headers=_bearer(second["key"]))).is_success
    revoked = await api.delete(
        f"/admin/tenants/{slug}/keys/{second['prefix']}", headers=ADMIN
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    refused = await api.get("/v1/limits", headers=_bearer(second["key"]))
    assert refused.status_code == 401
    rotate = await api.post(
        f"/admin/tenants/{slug}/keys/{second['prefix']}/rotate", json={}, headers=ADMIN
    )
    assert rotate.status_code == 409
    assert rotate.json()["error"]["code"] == "key_revoked"
    own = await api.delete(
        f"/v1/keys/{issued['prefix']}", headers=_bearer(issued["key"])
    )
    assert own.status_code == 200
    assert (
        await api.get("/v1/limits", headers=_bearer(issued["key"]))
    ).status_code == 401


async def test_a_tenant_cannot_touch_another_tenants_key(
    api: httpx.AsyncClient,
) -> None:
    mine, theirs = await admin_creates_tenant(api), await admin_creates_tenant(api)
    headers = _bearer(mine["key"])
    for method, path in (
        ("DELETE", f"/v1/keys/{theirs['prefix']}"),
        ("POST", f"/v1/keys/{theirs['prefix']}/rotate"),
    ):
        answer = await api.request(
            method, path, json={} if method == "POST" else None, headers=headers
        )
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "key_not_found"
    assert (await api.get("/v1/limits", headers=_bearer(theirs["key"]))).is_success
    wrong_tenant = await api.delete(
        f"/admin/tenants/{mine['tenant']['slug']}/keys/{theirs['prefix']}",
        headers=ADMIN,
    )
    assert wrong_tenant.status_code == 404
