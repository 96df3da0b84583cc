"""The API in-process over ASGI on the test database, with a recording enqueuer."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from broker_api.app import create_app
from broker_api.settings import ApiSettings
from shared.tenancy import create_api_key, create_tenant
from tests.factories import unique_name
from tests.recording_enqueuer import RecordingEnqueuer
from tests.services import Services

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SECRET_KEY = "a sealing key for the integration tests of the API"


@dataclass(frozen=True)
class TenantCredentials:
    slug: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def enqueuer() -> RecordingEnqueuer:
    return RecordingEnqueuer()


@pytest.fixture
def api_settings(services: Services) -> ApiSettings:
    return ApiSettings(
        database_url=services.database_url,
        redis_url=services.redis_url,
        helixq_admin_token=ADMIN_TOKEN,
        helixq_secret_key=SECRET_KEY,
        helixq_seed_tenants=False,
        helixq_max_body_bytes=64 * 1024,
    )


@pytest.fixture
async def api(
    api_settings: ApiSettings, enqueuer: RecordingEnqueuer
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_settings, enqueuer=enqueuer)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


@asynccontextmanager
async def api_process(
    services: Services, cache_s: float = 5.0
) -> AsyncIterator[httpx.AsyncClient]:
    """The app of one API process of several (its own pool, key cache and notice
    subscription), with a key cache of `cache_s` seconds."""
    settings = ApiSettings(
        database_url=services.database_url,
        redis_url=services.redis_url,
        helixq_admin_token=ADMIN_TOKEN,
        helixq_metrics_open=True,
        helixq_seed_tenants=False,
        helixq_auth_cache_s=cache_s,
    )
    app = create_app(settings, enqueuer=RecordingEnqueuer())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            await asyncio.sleep(0.2)  # its notice subscription is in place
            yield c


def _new_tenant(engine: Engine) -> TenantCredentials:
    with Session(engine) as session, session.begin():
        tenant = create_tenant(session, unique_name())
        issued = create_api_key(session, tenant)
        return TenantCredentials(slug=tenant.slug, key=issued.key)


def _delete_tenant(engine: Engine, credentials: TenantCredentials) -> None:
    """Its jobs, keys and batches go with it: no queued job outlives its test for a
    later one (the sweeper's) to find."""
    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM tenants WHERE slug = :slug"), {"slug": credentials.slug}
        )


@pytest.fixture
def tenant(engine: Engine) -> Iterator[TenantCredentials]:
    credentials = _new_tenant(engine)
    yield credentials
    _delete_tenant(engine, credentials)


@pytest.fixture
def other_tenant(engine: Engine) -> Iterator[TenantCredentials]:
    credentials = _new_tenant(engine)
    yield credentials
    _delete_tenant(engine, credentials)


async def admin_creates_tenant(api: httpx.AsyncClient) -> dict[str, Any]:
    """A new tenant made through the admin API: its view, first key and prefix."""
    created = await api.post(
        "/admin/tenants", json={"name": unique_name()}, headers=ADMIN_HEADERS
    )
    assert created.status_code == 201, created.text
    issued: dict[str, Any] = created.json()
    return issued
