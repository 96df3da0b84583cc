"""Rows written before upstream text was redacted may hold the OpenRouter key: the
API masks secret shapes in the error text it serves from them."""

from datetime import UTC, datetime
from uuid import UUID

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from shared.db.models import Batch, Job
from tests.integration.api.conftest import TenantCredentials
from tests.integration.api.test_batches_api import inline_batch
from tests.job_rows import add_job_with_attempt

pytestmark = pytest.mark.anyio

LEAKED = "Invalid credentials: Bearer sk-or-v1-0123456789abcdef0123456789abcdef"
MASKED = "Invalid credentials: Bearer ***"
SECRET = "0123456789abcdef0123456789abcdef"
_ONE_FAILED = {
    "total": 1,
    "succeeded": 0,
    "failed": 1,
    "cancelled": 0,
    "expired": 0,
    "pending": 0,
}


def _failed_job(engine: Engine, slug: str, **columns: object) -> UUID:
    """A failed job, and its attempt, holding the key in their error text."""
    return add_job_with_attempt(
        engine,
        slug,
        status="failed",
        model="openai/gpt-4o-mini",
        error_code="upstream_unauthorized",
        error_message=LEAKED,
        finished_at=datetime.now(UTC),
        attempt={
            "outcome": "permanent",
            "http_status": 401,
            "error_code": "upstream_unauthorized",
            "error_message": LEAKED,
            "latency_ms": 30,
        },
        **columns,
    )


async def test_job_view_masks_the_key_in_the_error_and_the_attempts(
    api, engine, tenant: TenantCredentials
) -> None:
    job_id = _failed_job(engine, tenant.slug)

    response = await api.get(f"/v1/jobs/{job_id}", headers=tenant.headers)

    assert response.status_code == 200, response.text
    view = response.json()
    assert view["error"] == {"code": "upstream_unauthorized", "message": MASKED}
    assert view["attempts"][0]["error"]["message"] == MASKED
    assert SECRET not in response.text


async def test_batch_results_mask_the_key(
    api, engine, tenant: TenantCredentials
) -> None:
    created = await api.post(
        "/v1/batches", json=inline_batch(1), headers=tenant.headers
    )
    batch_id = created.json()["id"]
    with Session(engine) as session, session.begin():
        session.execute(
            update(Job)
            .where(Job.batch_id == UUID(batch_id))
            .values(
                status="failed",
                error_code="upstream_unauthorized",
                error_message=LEAKED,
            )
        )
        # Ended, so that no batch sweep later in the run settles it.
        session.execute(
            update(Batch)
            .where(Batch.id == UUID(batch_id))
            .values(status="failed", request_counts=_ONE_FAILED)
        )

    response = await api.get(f"/v1/batches/{batch_id}/results", headers=tenant.headers)

    assert response.status_code == 200, response.text
    assert f'"message": "{MASKED}"' in response.text
    assert SECRET not in response.text


async def test_dashboard_failures_mask_the_key(
    api, engine, tenant: TenantCredentials
) -> None:
    _failed_job(engine, tenant.slug)

    response = await api.get("/dashboard/data?window=15m", headers=tenant.headers)

    assert response.status_code == 200, response.text
    assert [f["error_message"] for f in response.json()["failures"]] == [MASKED]
    assert SECRET not in response.text
