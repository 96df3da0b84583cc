"""The webhooks API over ASGI on the test database."""

from uuid import UUID

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from shared.db.models import Tenant, WebhookDelivery, WebhookEndpoint
from shared.webhooks.events import EventType
from tests.integration.api.conftest import TenantCredentials
from tests.integration.webhooks.conftest import add_delivery, load
from tests.recording_enqueuer import RecordingEnqueuer
from workers.webhooks.delivery import utc_now

pytestmark = pytest.mark.anyio


def tenant_id_of(sessions: sessionmaker[Session], slug: str) -> UUID:
    with sessions() as session:
        tenant = session.query(Tenant).filter_by(slug=slug).one()
        return tenant.id


def seed(sessions, credentials: TenantCredentials, count: int) -> list[UUID]:
    tenant_id = tenant_id_of(sessions, credentials.slug)
    return [
        add_delivery(sessions, tenant_id, f"https://hooks.example.com/{n}")
        for n in range(count)
    ]


async def test_list_pages_newest_first_with_a_cursor(api, tenant, sessions) -> None:
    created = seed(sessions, tenant, 5)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (
            await api.get(
                "/v1/webhooks/deliveries", params=params, headers=tenant.headers
            )
        ).json()
        seen += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == [str(d) for d in reversed(created)]


async def test_list_is_tenant_scoped(api, tenant, other_tenant, sessions) -> None:
    seed(sessions, tenant, 2)
    response = await api.get("/v1/webhooks/deliveries", headers=other_tenant.headers)
    assert response.status_code == 200
    assert response.json()["data"] == []


async def test_list_filters_by_status(api, tenant, sessions) -> None:
    first, _ = seed(sessions, tenant, 2)
    with sessions.begin() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == first)
            .values(status="failed")
        )
    response = await api.get(
        "/v1/webhooks/deliveries", params={"status": "failed"}, headers=tenant.headers
    )
    assert [item["id"] for item in response.json()["data"]] == [str(first)]


async def test_bad_cursor_is_an_invalid_request(api, tenant) -> None:
    response = await api.get(
        "/v1/webhooks/deliveries", params={"cursor": "nope"}, headers=tenant.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


async def test_detail_has_payload_log_and_webhook_id(api, tenant, sessions) -> None:
    [delivery_id] = seed(sessions, tenant, 1)
    response = await api.get(
        f"/v1/webhooks/deliveries/{delivery_id}", headers=tenant.headers
    )
    body = response.json()
    assert response.status_code == 200
    assert body["webhook_id"] == f"msg_{delivery_id.hex}"
    assert body["payload"]["type"] == "job.succeeded"
    assert body["attempts"] == []
    assert body["status"] == "pending"


async def test_detail_masks_a_key_an_older_payload_holds(api, tenant, sessions) -> None:
    # Written before upstream text was redacted: the key is in the job's error.
    leaked = {"code": "upstream_unauthorized", "message": "Bearer sk-or-v1-abcdef0123"}
    delivery_id = add_delivery(
        sessions,
        tenant_id_of(sessions, tenant.slug),
        "https://hooks.example.com/h",
        event_type=EventType.JOB_FAILED,
        data={"id": "job-1", "error": leaked},
    )

    response = await api.get(
        f"/v1/webhooks/deliveries/{delivery_id}", headers=tenant.headers
    )

    assert response.status_code == 200
    assert response.json()["payload"]["data"]["error"] == {
        "code": "upstream_unauthorized",
        "message": "Bearer ***",
    }
    assert "abcdef0123" not in response.text


@pytest.mark.parametrize("path", ["", "/replay"])
async def test_another_tenants_delivery_is_not_found(
    api, tenant, other_tenant, sessions, path: str
) -> None:
    [delivery_id] = seed(sessions, tenant, 1)
    method = api.post if path else api.get
    response = await method(
        f"/v1/webhooks/deliveries/{delivery_id}{path}", headers=other_tenant.headers
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "webhook_delivery_not_found"


async def test_malformed_id_is_not_found(api, tenant) -> None:
    response = await api.get("/v1/webhooks/deliveries/abc", headers=tenant.headers)
    assert response.status_code == 404


async def test_replay_resets_to_pending_and_sends_again(
    api, tenant, sessions, enqueuer: RecordingEnqueuer
) -> None:
    [delivery_id] = seed(sessions, tenant, 1)
    with sessions.begin() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(
                status="failed",
                attempt_count=8,
                next_attempt_at=None,
                attempts_log=[
                    {
                        "at": "2026-11-24T12:00:00+00:00",
                        "status_code": 500,
                        "error": None,
                        "duration_ms": 3,
                    }
                ],
            )
        )
    response = await api.post(
        f"/v1/webhooks/deliveries/{delivery_id}/replay", headers=tenant.headers
    )
    assert response.status_code == 202
    assert response.json()["webhook_id"] == f"msg_{delivery_id.hex}"
    assert enqueuer.webhooks == [delivery_id]
    delivery = load(sessions, delivery_id)
    assert delivery.status == "pending"
    assert delivery.attempt_count == 0
    assert delivery.next_attempt_at is not None
    assert len(delivery.attempts_log) == 1  # the history stays


async def test_replay_of_a_delivery_in_flight_conflicts(api, tenant, sessions) -> None:
    [delivery_id] = seed(sessions, tenant, 1)
    with sessions.begin() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(status="delivering")
        )
    response = await api.post(
        f"/v1/webhooks/deliveries/{delivery_id}/replay", headers=tenant.headers
    )
    assert response.status_code == 409


async def test_put_endpoint_sets_the_default_and_get_reads_it(
    api, tenant, sessions
) -> None:
    response = await api.put(
        "/v1/webhooks/endpoint",
        json={"url": "https://hooks.example.com/in"},
        headers=tenant.headers,
    )
    assert response.status_code == 200
    assert response.json()["url"] == "https://hooks.example.com/in"
    read = await api.get("/v1/webhooks/endpoint", headers=tenant.headers)
    assert read.json()["url"] == "https://hooks.example.com/in"
    with sessions() as session:
        tenant_row = session.query(Tenant).filter_by(slug=tenant.slug).one()
        assert tenant_row.webhook_url == "https://hooks.example.com/in"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://169.254.169.254/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "https://internal.example.com/",  # resolves to 10.0.0.7
        "http://[::127.0.0.1]:9998/h",  # IPv4-compatible IPv6
        "http://[64:ff9b:1::a00:7]/h",  # local-use NAT64
        "https://compat.example.com/",  # resolves to ::7f00:1
        "https://user:pw@hooks.example.com/",
        "ftp://hooks.example.com/",
        "https://nowhere.example.com/",
    ],
)
async def test_put_endpoint_refuses_ssrf_targets(api, tenant, url: str) -> None:
    response = await api.put(
        "/v1/webhooks/endpoint", json={"url": url}, headers=tenant.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"].startswith("webhook_")
    assert "pw" not in response.text


async def test_put_endpoint_names_the_ipv4_an_ipv6_address_carries(api, tenant) -> None:
    response = await api.put(
        "/v1/webhooks/endpoint",
        json={"url": "http://[::127.0.0.1]:9998/h"},
        headers=tenant.headers,
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "webhook_url_refused"
    assert error["message"] == (
        "webhook URL refused: the host resolves to a loopback address "
        "inside an IPv4-compatible IPv6 address"
    )
    read = await api.get("/v1/webhooks/endpoint", headers=tenant.headers)
    assert read.json()["url"] is None


async def test_put_endpoint_again_re_enables_a_disabled_url(
    api, tenant, sessions
) -> None:
    url = "https://hooks.example.com/gone"
    tenant_id = tenant_id_of(sessions, tenant.slug)
    with sessions.begin() as session:
        session.add(
            WebhookEndpoint(
                tenant_id=tenant_id,
                url=url,
                disabled_at=utc_now(),
                disabled_reason="410 Gone",
            )
        )
    response = await api.put(
        "/v1/webhooks/endpoint", json={"url": url}, headers=tenant.headers
    )
    assert response.json()["disabled_at"] is None
    assert add_delivery(sessions, tenant_id, None) is not None


async def test_put_null_removes_the_default(api, tenant, sessions) -> None:
    await api.put(
        "/v1/webhooks/endpoint",
        json={"url": "https://hooks.example.com/in"},
        headers=tenant.headers,
    )
    response = await api.put(
        "/v1/webhooks/endpoint", json={"url": None}, headers=tenant.headers
    )
    assert response.json()["url"] is None
    assert add_delivery(sessions, tenant_id_of(sessions, tenant.slug), None) is None


async def test_webhooks_api_needs_a_key(api) -> None:
    response = await api.get("/v1/webhooks/deliveries")
    assert response.status_code == 401
