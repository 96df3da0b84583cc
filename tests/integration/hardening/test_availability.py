"""Postgres or Redis away: a 503 with Retry-After, or a committed job; never a 500
and never a 202 without a row."""

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from broker_api.app import create_app
from broker_api.db_pool import POOL_TIMEOUT_S
from broker_api.settings import ApiSettings
from shared.db.models import Job
from tests.factories import make_job_body
from tests.integration.api.conftest import TenantCredentials

pytestmark = pytest.mark.anyio

# Port 1 on loopback: nothing listens, so connections are refused at once.
DEAD_POSTGRES = "postgresql://postgres@127.0.0.1:1/helixq"
DEAD_REDIS = "redis://127.0.0.1:1/0"


@asynccontextmanager
async def _client(settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its real Celery enqueuer (no fake), so a dead Redis is real."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


async def test_postgres_down_is_503_with_retry_after_and_no_internals(
    api_settings: ApiSettings, tenant: TenantCredentials
) -> None:
    settings = api_settings.model_copy(update={"database_url": DEAD_POSTGRES})
    async with _client(settings) as client:
        submitted = await client.post(
            "/v1/jobs", json=make_job_body(), headers=tenant.headers
        )
        read = await client.get(f"/v1/jobs/{uuid.uuid4()}", headers=tenant.headers)
    for response in (submitted, read):
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "5"
        assert response.json()["error"]["code"] == "service_unavailable"
        assert "127.0.0.1" not in response.text
        assert "postgres" not in response.text.lower()


async def test_redis_down_at_submit_commits_the_job_and_answers_202(
    api_settings: ApiSettings, tenant: TenantCredentials, engine: Engine
) -> None:
    settings = api_settings.model_copy(update={"redis_url": DEAD_REDIS})
    async with _client(settings) as client:
        response = await client.post(
            "/v1/jobs", json=make_job_body(), headers=tenant.headers
        )
    assert response.status_code == 202, response.text
    with Session(engine) as session:
        status = session.scalar(
            select(Job.status).where(Job.id == uuid.UUID(response.json()["id"]))
        )
    assert status == "queued"  # the row is the job; the sweeper sends it later


async def test_postgres_down_on_the_hot_path_is_handled_not_raised(
    api_settings: ApiSettings, tenant: TenantCredentials
) -> None:
    # Raised out of the app, the error would reach the server's own handler:
    # a traceback in the log for an outage the API answers for.
    settings = api_settings.model_copy(update={"database_url": DEAD_POSTGRES})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            started = time.monotonic()
            submitted = await c.post(
                "/v1/jobs", json=make_job_body(), headers=tenant.headers
            )
            read = await c.get(f"/v1/jobs/{uuid.uuid4()}", headers=tenant.headers)
            elapsed_s = time.monotonic() - started
    assert submitted.status_code == read.status_code == 503
    # Each waited for a pooled connection once, not once more on the routes.
    assert elapsed_s < 2 * POOL_TIMEOUT_S * 1.5
