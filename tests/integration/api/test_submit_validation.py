"""Submissions are checked against the model catalog: unknown ids are a 422."""

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.factories import make_job_body
from tests.integration.api.conftest import TenantCredentials
from workers.maintenance.catalog_sync import seed_catalog

pytestmark = pytest.mark.anyio
SNAPSHOT = Path(__file__).parents[3] / "simulator" / "data" / "openrouter-models.json"


@pytest.fixture
def catalog(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        seed_catalog(session, SNAPSHOT)


async def test_unknown_model_is_422_with_close_matches(
    catalog, api, tenant: TenantCredentials
) -> None:
    response = await api.post(
        "/v1/jobs",
        json=make_job_body(model="openai/gpt-4o-mni"),
        headers=tenant.headers,
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert "openai/gpt-4o-mini" in error["details"]["suggestions"]


async def test_listed_and_prefixed_models_are_accepted(
    catalog, api, tenant: TenantCredentials
) -> None:
    for model in (
        "openai/gpt-4o-mini",
        "openrouter/openai/gpt-4o-mini",
        "openrouter/auto",
    ):
        response = await api.post(
            "/v1/jobs", json=make_job_body(model=model), headers=tenant.headers
        )
        assert response.status_code == 202, (model, response.text)


async def test_batch_lines_with_unknown_models_are_reported(
    catalog, api, tenant: TenantCredentials
) -> None:
    requests = [
        {"custom_id": "ok", "body": make_job_body()},
        {
            "custom_id": "typo",
            "body": make_job_body(model="anthropic/claude-sonet-4.5"),
        },
    ]
    response = await api.post(
        "/v1/batches", json={"requests": requests}, headers=tenant.headers
    )
    assert response.status_code == 422
    errors = response.json()["error"]["details"]["errors"]
    assert [(e["line"], e["custom_id"]) for e in errors] == [(2, "typo")]
    assert "claude-sonnet-4.5" in errors[0]["message"]
