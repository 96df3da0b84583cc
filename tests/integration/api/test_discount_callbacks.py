"""OpenRouter's Batch API webhooks make helixq poll the named upstream batch at
once; with a signing secret set, only signed callbacks are taken."""

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text

from broker_api.app import create_app
from broker_api.settings import ApiSettings
from shared.lanes import CALLBACK_PATH
from tests.integration.api.conftest import TenantCredentials
from tests.recording_enqueuer import RecordingEnqueuer

pytestmark = pytest.mark.anyio
SECRET = "whsec-openrouter-workspace"


@pytest.fixture
def upstream_batch(engine: Engine, tenant: TenantCredentials) -> Iterator[str]:
    """A committed upstream batch, next polled in an hour; its OpenRouter id."""
    upstream_id, batch_id = f"batch-{uuid4().hex}", uuid4()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO batches (id, tenant_id, status, completion_window_s, "
                "total, expires_at, lane) SELECT :id, id, 'in_progress', 86400, 1, "
                "now() + interval '1 day', 'discount' FROM tenants WHERE slug = :slug"
            ),
            {"id": batch_id, "slug": tenant.slug},
        )
        connection.execute(
            text(
                "INSERT INTO upstream_batches (id, batch_id, tenant_id, model, "
                "upstream_id, status, request_count, body_bytes, next_poll_at) "
                "SELECT :id, id, tenant_id, 'x/m', :upstream, 'in_progress', 1, 10, "
                ":later FROM batches WHERE id = :batch"
            ),
            {
                "id": uuid4(),
                "upstream": upstream_id,
                "batch": batch_id,
                "later": datetime.now(UTC) + timedelta(hours=1),
            },
        )
    yield upstream_id
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM batches WHERE id = :id"), {"id": batch_id})


def _next_poll(engine: Engine, upstream_id: str) -> datetime:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT next_poll_at FROM upstream_batches WHERE upstream_id = :id"),
            {"id": upstream_id},
        ).scalar_one()


def _event(upstream_id: str) -> bytes:
    body = {
        "type": "batch.completed",
        "created_at": datetime.now(UTC).isoformat(),
        "data": {"id": upstream_id, "status": "completed"},
    }
    return json.dumps(body).encode()


def _signature(raw: bytes, *, secret: str = SECRET, at: int | None = None) -> str:
    stamp = str(at if at is not None else int(time.time()))
    mac = hmac.new(secret.encode(), stamp.encode() + b"," + raw, hashlib.sha256)
    return f"t={stamp},v1={mac.hexdigest()}"


@pytest.fixture
async def signed_api(
    api_settings: ApiSettings, enqueuer: RecordingEnqueuer
) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings.model_copy(
        update={"helixq_batch_callback_secret": SecretStr(SECRET)}
    )
    app = create_app(settings, enqueuer=enqueuer)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


async def test_a_callback_makes_the_upstream_batch_due_and_asks_for_a_poll(
    api, engine: Engine, enqueuer: RecordingEnqueuer, upstream_batch: str
) -> None:
    response = await api.post(CALLBACK_PATH, content=_event(upstream_batch))

    assert response.status_code == 202, response.text
    assert _next_poll(engine, upstream_batch) <= datetime.now(UTC)
    assert enqueuer.upstream_polls == 1


async def test_the_batch_object_as_body_is_read_too(
    api, engine: Engine, enqueuer: RecordingEnqueuer, upstream_batch: str
) -> None:
    body = json.dumps({"id": upstream_batch, "object": "batch", "status": "failed"})

    response = await api.post(CALLBACK_PATH, content=body)

    assert response.status_code == 202
    assert enqueuer.upstream_polls == 1


async def test_an_unknown_batch_is_accepted_and_polls_nothing(
    api, enqueuer: RecordingEnqueuer
) -> None:
    response = await api.post(CALLBACK_PATH, content=_event("batch-unknown"))

    assert response.status_code == 202
    assert enqueuer.upstream_polls == 0


async def test_a_body_that_is_not_json_is_a_422(api) -> None:
    response = await api.post(CALLBACK_PATH, content=b"not json")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


async def test_with_a_secret_only_signed_callbacks_are_taken(
    signed_api, engine: Engine, enqueuer: RecordingEnqueuer, upstream_batch: str
) -> None:
    raw = _event(upstream_batch)
    stale = int(time.time()) - 3600
    refused = [
        {},
        {"X-OpenRouter-Signature": _signature(raw, secret="another")},
        {"X-OpenRouter-Signature": _signature(raw, at=stale)},
        {"X-OpenRouter-Signature": _signature(raw + b" ")},
    ]
    for headers in refused:
        response = await signed_api.post(CALLBACK_PATH, content=raw, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "invalid_callback_signature"
    assert enqueuer.upstream_polls == 0
    assert _next_poll(engine, upstream_batch) > datetime.now(UTC)

    signed = {"X-OpenRouter-Signature": _signature(raw)}
    response = await signed_api.post(CALLBACK_PATH, content=raw, headers=signed)

    assert response.status_code == 202
    assert enqueuer.upstream_polls == 1
