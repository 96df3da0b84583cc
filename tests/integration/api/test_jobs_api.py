"""Submitting and reading jobs through the HTTP API on a real database."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from shared.db.models import ApiKey, Job
from tests.factories import make_job_body
from tests.integration.api.conftest import TenantCredentials
from tests.recording_enqueuer import RecordingEnqueuer

pytestmark = pytest.mark.anyio


async def test_submit_commits_the_job_then_enqueues_its_id(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer, engine: Engine
) -> None:
    body = make_job_body(custom_id="row-7", metadata={"team": "search"})
    response = await api.post("/v1/jobs", json=body, headers=tenant.headers)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "queued"
    assert accepted["custom_id"] == "row-7"
    assert response.headers["location"] == f"/v1/jobs/{accepted['id']}"
    assert enqueuer.sent == [(uuid.UUID(accepted["id"]), tenant.slug)]
    with Session(engine) as session:
        job = session.get(Job, uuid.UUID(accepted["id"]))
        assert job is not None
        assert job.request["messages"] == body["messages"]
        assert "custom_id" not in job.request


async def test_get_job_returns_status_and_fields(
    api, tenant: TenantCredentials
) -> None:
    created = await api.post("/v1/jobs", json=make_job_body(), headers=tenant.headers)
    job_id = created.json()["id"]
    response = await api.get(f"/v1/jobs/{job_id}", headers=tenant.headers)
    assert response.status_code == 200
    view = response.json()
    assert view["id"] == job_id
    assert view["status"] == "queued"
    assert view["attempts"] == []
    assert view["result"] is None
    assert view["error"] is None


async def test_another_tenants_job_answers_like_a_missing_one(
    api, tenant: TenantCredentials, other_tenant: TenantCredentials
) -> None:
    created = await api.post("/v1/jobs", json=make_job_body(), headers=tenant.headers)
    job_id = created.json()["id"]
    theirs = await api.get(f"/v1/jobs/{job_id}", headers=other_tenant.headers)
    missing = await api.get(f"/v1/jobs/{uuid.uuid4()}", headers=other_tenant.headers)
    assert theirs.status_code == missing.status_code == 404
    assert (
        theirs.json()["error"]["code"]
        == missing.json()["error"]["code"]
        == "job_not_found"
    )


async def test_malformed_job_id_is_a_404(api, tenant: TenantCredentials) -> None:
    response = await api.get("/v1/jobs/not-a-uuid", headers=tenant.headers)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer hqk_00000000_nope"}, {"Authorization": "Basic abc"}],
)
async def test_missing_or_wrong_key_is_401(api, headers: dict[str, str]) -> None:
    response = await api.post("/v1/jobs", json=make_job_body(), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_revoked_and_expired_keys_are_refused(
    api, tenant: TenantCredentials, engine: Engine
) -> None:
    with Session(engine) as session, session.begin():
        session.execute(
            update(ApiKey)
            .where(ApiKey.prefix == tenant.key[:12])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    response = await api.get(f"/v1/jobs/{uuid.uuid4()}", headers=tenant.headers)
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


async def test_validation_errors_are_422_with_field_paths(
    api, tenant: TenantCredentials, engine: Engine
) -> None:
    body = make_job_body(temperature=5, messages=[{"role": "user"}, {"role": "x"}])
    response = await api.post("/v1/jobs", json=body, headers=tenant.headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    fields = {item["field"] for item in error["details"]["fields"]}
    assert "body.temperature" in fields
    assert "body.messages.1.role" in fields


async def test_a_job_may_allow_model_substitution_by_name(
    api, tenant: TenantCredentials, engine: Engine
) -> None:
    body = make_job_body(route={"model_substitution": "on_failure"})
    response = await api.post("/v1/jobs", json=body, headers=tenant.headers)
    assert response.status_code == 202, response.text
    with Session(engine) as session:
        job = session.get(Job, uuid.UUID(response.json()["id"]))
        assert job is not None
        assert job.route == {"model_substitution": "on_failure"}
    body = make_job_body(route={"model_substitution": "sometimes"})
    response = await api.post("/v1/jobs", json=body, headers=tenant.headers)
    assert response.status_code == 422
    fields = {item["field"] for item in response.json()["error"]["details"]["fields"]}
    assert fields == {"body.route.model_substitution"}


async def test_invalid_json_is_422_and_nothing_is_written(
    api, tenant: TenantCredentials, engine: Engine, enqueuer: RecordingEnqueuer
) -> None:
    response = await api.post(
        "/v1/jobs",
        content=b'{"messages": [',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert enqueuer.sent == []


async def test_oversized_body_is_413(api, tenant: TenantCredentials) -> None:
    body = make_job_body(messages=[{"role": "user", "content": "x" * 70_000}])
    response = await api.post("/v1/jobs", json=body, headers=tenant.headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


async def test_job_is_kept_when_publishing_fails(
    api, tenant: TenantCredentials, enqueuer: RecordingEnqueuer, engine: Engine
) -> None:
    enqueuer.fail = True
    response = await api.post("/v1/jobs", json=make_job_body(), headers=tenant.headers)
    assert response.status_code == 202
    with Session(engine) as session:
        status = session.scalar(
            select(Job.status).where(Job.id == uuid.UUID(response.json()["id"]))
        )
    assert status == "queued"  # the sweeper will send it
