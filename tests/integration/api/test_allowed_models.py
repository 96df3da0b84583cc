"""Model allow-lists at the door: per tenant (admin API) and per key, for jobs,
chat and batch lines alike; the stored route carries the list to the worker."""

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from shared.db.models import Job
from tests.factories import make_job_body
from tests.integration.api.conftest import ADMIN_TOKEN, admin_creates_tenant

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ALLOWED = ["openai/gpt-4o-mini", "anthropic/claude-3.5-sonnet"]


async def _tenant(api: httpx.AsyncClient, models: list[str] | None) -> dict[str, Any]:
    issued = await admin_creates_tenant(api)
    slug = issued["tenant"]["slug"]
    put = await api.put(
        f"/admin/tenants/{slug}/allowed-models", json={"models": models}, headers=ADMIN
    )
    assert put.status_code == 200, put.text
    return issued


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_model_outside_the_tenant_list_is_refused_on_every_submit_route(
    api: httpx.AsyncClient,
) -> None:
    issued = await _tenant(api, ["openrouter/openai/gpt-4o-mini", ALLOWED[1]])
    headers = _bearer(issued["key"])
    listed = await api.get(
        f"/admin/tenants/{issued['tenant']['slug']}/allowed-models", headers=ADMIN
    )
    assert listed.json() == {"models": ALLOWED}
    outside = make_job_body(model="mistralai/mistral-nemo")
    for path in ("/v1/jobs", "/v1/chat/completions"):
        refused = await api.post(path, json=outside, headers=headers)
        assert refused.status_code == 403, (path, refused.text)
        error = refused.json()["error"]
        assert error["code"] == "model_not_allowed"
        assert error["details"] == {
            "model": "mistralai/mistral-nemo",
            "allowed_models": ALLOWED,
        }
        assert "openai/gpt-4o-mini" in error["message"]
    batch = await api.post(
        "/v1/batches",
        json={
            "requests": [
                {"custom_id": "ok", "body": make_job_body(model=ALLOWED[0])},
                {"custom_id": "no", "body": outside},
            ]
        },
        headers=headers,
    )
    assert batch.status_code == 422, batch.text
    [line] = batch.json()["error"]["details"]["errors"]
    assert (line["line"], line["custom_id"], line["code"]) == (
        2,
        "no",
        "model_not_allowed",
    )


async def test_an_allowed_job_carries_the_list_to_the_worker(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    issued = await _tenant(api, ALLOWED)
    accepted = await api.post(
        "/v1/jobs", json=make_job_body(model=ALLOWED[1]), headers=_bearer(issued["key"])
    )
    assert accepted.status_code == 202, accepted.text
    batch = await api.post(
        "/v1/batches",
        json={"requests": [{"custom_id": "a", "body": make_job_body()}]},
        headers=_bearer(issued["key"]),
    )
    assert batch.status_code == 201, batch.text
    with Session(engine) as session:
        job = session.get(Job, accepted.json()["id"])
        assert job is not None
        assert job.route == {"allowed_models": ALLOWED}
        batch_job = session.scalar(
            select(Job).where(Job.batch_id == batch.json()["id"])
        )
        assert batch_job is not None
        assert batch_job.route == {"allowed_models": ALLOWED}


async def test_a_key_list_narrows_the_tenant_list(api: httpx.AsyncClient) -> None:
    issued = await _tenant(api, ALLOWED)
    slug = issued["tenant"]["slug"]
    outside = await api.post(
        f"/admin/tenants/{slug}/keys",
        json={"allowed_models": ["mistralai/mistral-nemo"]},
        headers=ADMIN,
    )
    assert outside.status_code == 403
    assert outside.json()["error"]["code"] == "model_not_allowed"
    narrow = await api.post(
        f"/admin/tenants/{slug}/keys",
        json={"allowed_models": [ALLOWED[0]]},
        headers=ADMIN,
    )
    assert narrow.status_code == 201, narrow.text
    headers = _bearer(narrow.json()["key"])
    refused = await api.post(
        "/v1/jobs", json=make_job_body(model=ALLOWED[1]), headers=headers
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["details"]["allowed_models"] == [ALLOWED[0]]
    ok = await api.post(
        "/v1/jobs", json=make_job_body(model=ALLOWED[0]), headers=headers
    )
    assert ok.status_code == 202


async def test_a_changed_list_applies_at_once_and_null_allows_every_model(
    api: httpx.AsyncClient,
) -> None:
    issued = await _tenant(api, None)
    slug, headers = issued["tenant"]["slug"], _bearer(issued["key"])
    body = make_job_body(model="mistralai/mistral-nemo")
    assert (await api.post("/v1/jobs", json=body, headers=headers)).status_code == 202
    await api.put(
        f"/admin/tenants/{slug}/allowed-models", json={"models": ALLOWED}, headers=ADMIN
    )
    assert (await api.post("/v1/jobs", json=body, headers=headers)).status_code == 403
    empty = await api.put(
        f"/admin/tenants/{slug}/allowed-models", json={"models": []}, headers=ADMIN
    )
    assert empty.status_code == 422
