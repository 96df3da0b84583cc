"""A real HTTP receiver on 127.0.0.1, committed sessions, and delivery deps."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from broker_api.db_pool import open_pool
from broker_api.errors import install_error_handlers
from broker_api.key_cache import KeyCache
from broker_api.settings import ApiSettings
from broker_api.webhooks.routes import get_resolver
from broker_api.webhooks.routes import router as webhooks_router
from shared.db.models import WebhookDelivery
from shared.db.session import make_async_engine, make_async_sessions
from shared.settings import WebhookSettings
from shared.tenancy import create_tenant
from shared.webhooks.events import EventType, event_payload
from shared.webhooks.outbox import record_event
from tests.factories import unique_name
from tests.integration.api.conftest import (  # noqa: F401  (fixtures, by name)
    anyio_backend,
    other_tenant,
    tenant,
)
from tests.recording_enqueuer import RecordingEnqueuer
from tests.services import Services
from tests.webhook_receiver import (  # noqa: F401  (the fixture, by name)
    Received,
    Receiver,
    Reply,
    receiver,
)
from workers.webhooks.delivery import DeliveryDeps, utc_now


@dataclass
class RecordingSender:
    sent: list[tuple[UUID, float]] = field(default_factory=list)

    def send(self, delivery_id: UUID, *, countdown_s: float = 0) -> None:
        self.sent.append((delivery_id, countdown_s))


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions that commit: delivery runs its own transactions, like a worker."""
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def tenant_id(sessions: sessionmaker[Session]) -> UUID:
    with sessions.begin() as session:
        return create_tenant(session, unique_name()).id


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


def webhook_settings(**overrides: Any) -> WebhookSettings:
    values: dict[str, Any] = {
        "helixq_webhook_allow_private": True,
        "helixq_webhook_timeout_s": 2.0,
        "helixq_webhook_retry_schedule": "5s,5m,30m,2h,5h,10h,10h",
    }
    values.update(overrides)
    return WebhookSettings(**values)


@pytest.fixture
def deps(sessions: sessionmaker[Session], sender: RecordingSender) -> DeliveryDeps:
    return DeliveryDeps(sessions=sessions, settings=webhook_settings(), sender=sender)


def add_delivery(
    sessions: sessionmaker[Session],
    tenant_id: UUID,
    url: str | None,
    *,
    event_type: EventType = EventType.JOB_SUCCEEDED,
    data: dict[str, Any] | None = None,
) -> UUID | None:
    """Record one event the way a finishing job does, committed."""
    payload = event_payload(event_type, data or {"id": "job-1"}, now=utc_now())
    with sessions.begin() as session:
        return record_event(
            session,
            tenant_id=tenant_id,
            event_type=event_type,
            resource_id=UUID(int=1),
            url=url,
            payload=payload,
        )


def load(sessions: sessionmaker[Session], delivery_id: UUID) -> WebhookDelivery:
    with sessions() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        return delivery


def make_due(sessions: sessionmaker[Session], delivery_id: UUID) -> None:
    """Let the time of the next try come (instead of sleeping through it)."""
    with sessions.begin() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(next_attempt_at=utc_now())
        )


# The API side: the webhooks router alone on the app's error handlers and state,
# without the rest of the app's lifespan (tested with the app elsewhere).

DNS = {
    "hooks.example.com": ["93.184.216.34"],
    "internal.example.com": ["10.0.0.7"],
    "compat.example.com": ["::7f00:1"],  # IPv4-compatible IPv6 of 127.0.0.1
}


def fake_resolve(host: str, port: int) -> list[str]:
    if host not in DNS:
        raise OSError("unknown host")
    return DNS[host]


@pytest.fixture
def enqueuer() -> RecordingEnqueuer:
    return RecordingEnqueuer()


@pytest.fixture
async def api(
    services: Services, enqueuer: RecordingEnqueuer
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ApiSettings(
        database_url=services.database_url,
        redis_url=services.redis_url,
        helixq_seed_tenants=False,
    )
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(webhooks_router)
    app.dependency_overrides[get_resolver] = lambda: fake_resolve
    engine = make_async_engine(settings)
    app.state.settings = settings
    app.state.sessions = make_async_sessions(engine)
    app.state.enqueuer = enqueuer
    app.state.pool = await open_pool(settings)
    app.state.key_cache = KeyCache(settings.helixq_auth_cache_s)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
    await app.state.pool.close()
    await engine.dispose()
