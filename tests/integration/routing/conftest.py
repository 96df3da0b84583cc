"""The API in-process, plus catalog rows committed for a test and removed after it."""

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from broker_api.app import create_app
from broker_api.settings import ApiSettings
from shared.db.models import CatalogModel
from shared.routing.catalog import ModelInfo
from tests.factories import unique_name

# The jobs API's fixtures: settings, recording enqueuer, tenant credentials.
from tests.integration.api.conftest import (  # noqa: F401
    anyio_backend,
    api_settings,
    enqueuer,
    other_tenant,
    tenant,
)
from tests.recording_enqueuer import RecordingEnqueuer
from workers.maintenance.catalog_sync import upsert_catalog


@pytest.fixture
async def routing_api(
    api_settings: ApiSettings,  # noqa: F811  (the imported fixture, requested by name)
    enqueuer: RecordingEnqueuer,  # noqa: F811
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_settings, enqueuer=enqueuer)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


@pytest.fixture
def catalog_models(engine: Engine) -> Iterator[list[ModelInfo]]:
    """Two committed catalog models under a unique author, deleted afterwards."""
    author = unique_name("itest")
    models = [
        ModelInfo(
            id=f"{author}/cheap-mini",
            name="Cheap Mini",
            context_length=128_000,
            max_completion_tokens=4_096,
            prompt_price=Decimal("0.00000015"),
            completion_price=Decimal("0.0000006"),
            pricing={
                "prompt": "0.00000015",
                "completion": "0.0000006",
                "web_search": "0.01",
            },
            supported_parameters=("tools", "response_format"),
            created=1_721_260_800,
        ),
        ModelInfo(
            id=f"{author}/router",
            name="Router",
            context_length=None,
            max_completion_tokens=None,
            prompt_price=Decimal(-1),
            completion_price=Decimal(-1),
            pricing={"prompt": "-1", "completion": "-1"},
        ),
    ]
    with Session(engine) as session, session.begin():
        upsert_catalog(session, models, now=datetime.now(UTC), unlist_missing=False)
    yield models
    with Session(engine) as session, session.begin():
        session.execute(
            delete(CatalogModel).where(CatalogModel.id.in_([m.id for m in models]))
        )
