"""Every route, called by tenant B with tenant A's ids: B learns nothing about A.

An owned resource of A answers exactly as a random missing id does; no answer to B
carries A's ids, prompt, custom id or name; A's Idempotency-Key means nothing to B.
A route added without a kind below fails `test_every_route_has_a_kind`.
"""

import uuid
from dataclasses import dataclass

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from broker_api.app import create_app
from broker_api.settings import ApiSettings
from shared.api_keys import key_prefix
from shared.db.models import Tenant
from tests.factories import make_job_body
from tests.integration.api.conftest import TenantCredentials
from tests.integration.webhooks.conftest import add_delivery

pytestmark = pytest.mark.anyio

OWNED = "owned"  # a path id names one tenant's resource
TENANT = "tenant"  # the caller's own data, or a create
PUBLIC = "public"  # the same for everyone
ADMIN = "admin"  # the admin token only
METRICS = "metrics"  # the metrics token only (closed when none is set)

ROUTE_KINDS = {
    "GET /openapi.json": PUBLIC,
    "GET /docs": PUBLIC,
    "GET /docs/oauth2-redirect": PUBLIC,
    "GET /redoc": PUBLIC,
    "GET /docs/assets/{name}": PUBLIC,
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /metrics": METRICS,
    "POST /v1/jobs": TENANT,
    "GET /v1/jobs/{job_id}": OWNED,
    "GET /v1/jobs/{job_id}/stream": OWNED,
    "POST /v1/chat/completions": TENANT,
    "POST /v1/embeddings": TENANT,
    "POST /v1/batches": TENANT,
    "GET /v1/batches": TENANT,
    "GET /v1/batches/{batch_id}": OWNED,
    "POST /v1/batches/{batch_id}/cancel": OWNED,
    "GET /v1/batches/{batch_id}/results": OWNED,
    "POST /v1/files": TENANT,
    "GET /v1/files": TENANT,
    "GET /v1/files/{file_id}": OWNED,
    "GET /v1/files/{file_id}/content": OWNED,
    "DELETE /v1/files/{file_id}": OWNED,
    "GET /v1/webhooks/deliveries": TENANT,
    "GET /v1/webhooks/deliveries/{delivery_id}": OWNED,
    "POST /v1/webhooks/deliveries/{delivery_id}/replay": OWNED,
    "GET /v1/webhooks/endpoint": TENANT,
    "PUT /v1/webhooks/endpoint": TENANT,
    "GET /v1/models": PUBLIC,
    "GET /v1/models/{model_id:path}": PUBLIC,
    "GET /v1/stats/models": PUBLIC,
    "GET /v1/limits": TENANT,
    "GET /v1/usage": TENANT,
    "GET /v1/usage/export": TENANT,
    "GET /v1/stats": TENANT,
    "GET /dashboard": PUBLIC,
    # OpenRouter's Batch API webhooks: a hint to poll, answered alike for every id.
    "POST /v1/discount/callbacks": PUBLIC,
    "GET /dashboard/assets/{name}": PUBLIC,
    "GET /dashboard/data": TENANT,
    "POST /admin/tenants": ADMIN,
    "GET /admin/tenants": ADMIN,
    "POST /admin/tenants/{slug}/keys": ADMIN,
    "GET /admin/tenants/{slug}/keys": ADMIN,
    "POST /admin/tenants/{slug}/keys/{prefix}/rotate": ADMIN,
    "DELETE /admin/tenants/{slug}/keys/{prefix}": ADMIN,
    "GET /admin/tenants/{slug}/allowed-models": ADMIN,
    "PUT /admin/tenants/{slug}/allowed-models": ADMIN,
    "GET /admin/audit": ADMIN,
    "GET /v1/keys": TENANT,
    "POST /v1/keys": TENANT,
    "POST /v1/keys/{prefix}/rotate": OWNED,
    "DELETE /v1/keys/{prefix}": OWNED,
    "GET /v1/audit": TENANT,
    "GET /admin/tenants/{slug}/routing": ADMIN,
    "PUT /admin/tenants/{slug}/routing": ADMIN,
    "GET /admin/tenants/{slug}/limits": ADMIN,
    "PUT /admin/tenants/{slug}/limits": ADMIN,
    "GET /admin/tenants/{slug}/openrouter-key": ADMIN,
    "PUT /admin/tenants/{slug}/openrouter-key": ADMIN,
    "DELETE /admin/tenants/{slug}/openrouter-key": ADMIN,
    "POST /admin/secrets/reseal": ADMIN,
    "GET /admin/usage": ADMIN,
    "GET /admin/tenants/{slug}/usage/export": ADMIN,
    "GET /admin/reconciliation": ADMIN,
    "GET /admin/stats": ADMIN,
}
SECRET_PROMPT = "tenant-a-secret-prompt-7f3c"
IDEMPOTENCY_KEY = "tenant-a-idempotency-key"


@dataclass(frozen=True)
class TenantA:
    credentials: TenantCredentials
    ids: dict[str, str]  # path parameter name -> A's id

    @property
    def secrets(self) -> list[str]:
        return [
            *self.ids.values(),
            SECRET_PROMPT,
            "a-custom-id",
            "a-file-name",
            self.credentials.key,
        ]


def _routes(api_settings: ApiSettings) -> list[tuple[str, str]]:
    app = create_app(api_settings)
    return [
        (method, str(context.path))
        for context in iter_route_contexts(app.routes)
        for method in sorted(context.methods or ())
        if method != "HEAD"
    ]


def test_every_route_has_a_kind(api_settings: ApiSettings) -> None:
    routes = {f"{method} {path}" for method, path in _routes(api_settings)}
    assert routes - ROUTE_KINDS.keys() == set(), "classify new routes in ROUTE_KINDS"
    assert ROUTE_KINDS.keys() - routes == set(), "drop removed routes from ROUTE_KINDS"


def _body() -> dict[str, object]:
    return make_job_body(
        messages=[{"role": "user", "content": SECRET_PROMPT}], custom_id="a-custom-id"
    )


@pytest.fixture
async def tenant_a(
    api: httpx.AsyncClient, tenant: TenantCredentials, engine: Engine
) -> TenantA:
    headers = {**tenant.headers, "Idempotency-Key": IDEMPOTENCY_KEY}
    job = await api.post("/v1/jobs", json=_body(), headers=headers)
    batch = await api.post(
        "/v1/batches",
        json={"requests": [{"custom_id": "a-custom-id", "body": _body()}]},
        headers=tenant.headers,
    )
    uploaded = await api.post(
        "/v1/files",
        data={"purpose": "batch"},
        files={"file": ("a-file-name.jsonl", SECRET_PROMPT.encode())},
        headers=tenant.headers,
    )
    # No worker runs: the embeddings job is left queued, its input A's secret.
    embedding = await api.post(
        "/v1/embeddings", json={"input": [SECRET_PROMPT]}, headers=tenant.headers
    )
    assert embedding.status_code == 504, embedding.text
    assert (job.status_code, batch.status_code) == (202, 201), batch.text
    assert uploaded.status_code == 200, uploaded.text
    with Session(engine) as session:
        tenant_id = session.query(Tenant).filter_by(slug=tenant.slug).one().id
    delivery = add_delivery(
        sessionmaker(engine), tenant_id, "https://hooks.example.com/a"
    )
    ids = {
        "job_id": job.json()["id"],
        "batch_id": batch.json()["id"],
        "delivery_id": str(delivery),
        "file_id": uploaded.json()["id"],
        "prefix": key_prefix(tenant.key),
    }
    return TenantA(tenant, ids)


def _fill(path: str, ids: dict[str, str], slug: str) -> str:
    values = {**ids, "slug": slug, "model_id:path": "openai/gpt-4o-mini"}
    values["name"] = "app.js"
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"no value for a parameter of {path}"
    return path


async def _call(
    api: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    json_body: object = None
    if method in {"POST", "PUT"}:
        # B's own body: an echo of A's prompt would prove nothing.
        json_body = (
            {"url": None}
            if path.endswith("/endpoint")
            else {"input": "b's own text"}
            if path == "/v1/embeddings"
            else make_job_body()
        )
    return await api.request(method, path, json=json_body, headers=headers)


@pytest.fixture
def api_settings(api_settings: ApiSettings) -> ApiSettings:
    # The synchronous endpoint would wait for a worker that this test does not run.
    return api_settings.model_copy(update={"helixq_sync_timeout_s": 0.1})


async def test_tenant_b_learns_nothing_about_tenant_a_on_any_route(
    api: httpx.AsyncClient,
    api_settings: ApiSettings,
    tenant_a: TenantA,
    other_tenant: TenantCredentials,
) -> None:
    missing = {name: str(uuid.uuid4()) for name in tenant_a.ids}
    for method, template in _routes(api_settings):
        kind = ROUTE_KINDS[f"{method} {template}"]
        path = _fill(template, tenant_a.ids, tenant_a.credentials.slug)
        answer = await _call(api, method, path, other_tenant.headers)
        where = f"{method} {path}"
        # 504: the synchronous endpoint's own time limit, with no worker running.
        assert answer.status_code < 500 or answer.status_code == 504, where
        # An id B sent in the path may come back (as for any missing id).
        leaked = [s for s in tenant_a.secrets if s in answer.text and s not in path]
        assert leaked == [], (where, leaked)
        if kind == OWNED:
            path_missing = _fill(template, missing, tenant_a.credentials.slug)
            expected = await _call(api, method, path_missing, other_tenant.headers)
            assert answer.status_code == expected.status_code == 404, where
            assert _masked(answer, tenant_a.ids) == _masked(expected, missing), where
        if kind in {ADMIN, METRICS}:
            assert answer.status_code in {401, 403}, where


def _masked(response: httpx.Response, ids: dict[str, str]) -> str:
    text = response.text
    for value in ids.values():
        text = text.replace(value, "<id>")
    return text


@pytest.mark.parametrize("same_body", [True, False])
async def test_tenant_a_idempotency_key_means_nothing_to_tenant_b(
    api: httpx.AsyncClient,
    tenant_a: TenantA,
    other_tenant: TenantCredentials,
    same_body: bool,
) -> None:
    """Keys are per tenant: B neither gets A's job back nor a 'key reused' hint."""
    body = _body() if same_body else make_job_body()
    headers = {**other_tenant.headers, "Idempotency-Key": IDEMPOTENCY_KEY}
    response = await api.post("/v1/jobs", json=body, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["id"] != tenant_a.ids["job_id"]
