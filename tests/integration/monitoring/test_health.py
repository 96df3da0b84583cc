"""/healthz and /readyz: every dependency with a reason, never a stack trace."""

import socket
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from broker_api.app import create_app
from shared import redis_keys
from shared.settings import load_settings
from shared.upstream_health import parse_checks
from tests.integration.workers.conftest import BASE_URL
from workers.maintenance.upstream_check import check_upstream
from workers.openrouter.keys import UpstreamKey
from workers.runtime import heartbeat
from workers.runtime.settings import WorkerSettings

pytestmark = pytest.mark.anyio


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _worker_settings(services) -> WorkerSettings:
    return load_settings(
        WorkerSettings,
        database_url=services.database_url,
        redis_url=services.redis_url,
        openrouter_api_key="sk-or-v1-health",
        openrouter_base_url=BASE_URL,
    )


def _key_answer(status: int) -> httpx.MockTransport:
    return httpx.MockTransport(lambda _: httpx.Response(status, json={"data": {}}))


async def test_healthz_is_alive(api) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}


async def test_readyz_is_degraded_without_worker_or_upstream_check(
    api, redis_client
) -> None:
    answer = await api.get("/readyz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "degraded"
    assert body["checks"]["postgres"] == {"ok": True}
    assert body["checks"]["workers"]["reason"] == "no worker heartbeat in Redis"
    assert "no upstream check" in body["checks"]["upstream"]["reason"]
    assert (await api.get("/readyz", params={"strict": "true"})).status_code == 503


async def test_readyz_is_ready_with_a_heartbeat_and_a_good_check(
    api, services, redis_client
) -> None:
    heartbeat.beat(redis_client, "worker1@host")
    check_upstream(_worker_settings(services), redis_client, transport=_key_answer(200))
    answer = await api.get("/readyz", params={"strict": "true"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ready"
    assert answer.json()["checks"]["workers"]["alive"] == 1


async def test_readyz_says_why_the_upstream_fails(api, services, redis_client) -> None:
    check_upstream(_worker_settings(services), redis_client, transport=_key_answer(401))
    upstream = (await api.get("/readyz")).json()["checks"]["upstream"]
    assert upstream["ok"] is False
    assert upstream["reason"] == "OpenRouter rejected the key (HTTP 401)"


async def test_readyz_names_unreachable_postgres_and_redis(api_settings) -> None:
    port = _closed_port()
    settings = api_settings.model_copy(
        update={
            "database_url": f"postgresql://postgres@127.0.0.1:{port}/none",
            "redis_url": f"redis://127.0.0.1:{port}/0",
        }
    )
    app = create_app(settings, enqueuer=None)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t"
        ) as client:
            answer = await client.get("/readyz")
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["postgres"]["reason"].startswith("postgres unreachable: ")
    assert checks["redis"]["reason"].startswith("redis unreachable: ")
    assert "Traceback" not in answer.text


def test_upstream_check_without_an_answer_names_the_error(services, redis_client):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    check = check_upstream(
        _worker_settings(services), redis_client, transport=httpx.MockTransport(refuse)
    )
    assert (check.ok, check.status) == (False, None)
    assert check.reason == "OpenRouter unreachable: ConnectError"
    assert check.checked_at <= datetime.now(UTC)


def test_heartbeat_expires_with_its_ttl(redis_client) -> None:
    heartbeat.beat(redis_client, "worker9@host")
    ttl = redis_client.ttl("broker:worker:worker9@host:heartbeat")
    assert 0 < ttl <= 30


def test_each_tenant_key_is_checked_apart_under_its_label(services, redis_client):
    tenant_key = UpstreamKey.of(SecretStr("sk-or-v1-" + "ab" * 32))
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["Authorization"])
        if request.headers["Authorization"] == tenant_key.authorization():
            return httpx.Response(401, json={"error": {"code": 401}})
        return httpx.Response(200, json={"data": {}})

    check = check_upstream(
        _worker_settings(services),
        redis_client,
        tenant_keys=[tenant_key],
        transport=httpx.MockTransport(answer),
    )

    assert check.ok  # the global key's
    assert sent == ["Bearer sk-or-v1-health", tenant_key.authorization()]
    own = parse_checks(
        redis_client.lrange(redis_keys.upstream_health_checks(tenant_key.label), 0, -1)
    )
    assert [c.reason for c in own] == ["OpenRouter rejected the key (HTTP 401)"]
    stored = redis_client.lrange(redis_keys.upstream_health_checks(), 0, -1)
    assert [c.ok for c in parse_checks(stored)] == [True]
    assert "ab" * 32 not in str(stored + own)


async def test_readyz_shows_upstream_batches_held_back_by_a_402(
    api, engine, tenant
) -> None:
    batch_id = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO batches (id, tenant_id, status, completion_window_s, "
                "total, expires_at, lane) SELECT :id, id, 'in_progress', "
                "86400, 1, now() + interval '1 day', 'discount' FROM tenants "
                "WHERE slug = :slug"
            ),
            {"id": batch_id, "slug": tenant.slug},
        )
        connection.execute(
            text(
                "INSERT INTO upstream_batches (id, batch_id, tenant_id, model, "
                "status, request_count, body_bytes, payment_required_at) SELECT "
                ":id, id, tenant_id, 'x/m', 'in_progress', 1, 10, now() "
                "FROM batches WHERE id = :batch"
            ),
            {"id": uuid.uuid4(), "batch": batch_id},
        )
    try:
        check = (await api.get("/readyz")).json()["checks"]["batch_api"]
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("DELETE FROM batches WHERE id = :id"), {"id": batch_id}
            )

    assert check["ok"] is False
    assert check["payment_required"] >= 1
    assert "402" in check["reason"]
    after = (await api.get("/readyz")).json()["checks"]["batch_api"]
    assert after == {"ok": True, "payment_required": 0}
