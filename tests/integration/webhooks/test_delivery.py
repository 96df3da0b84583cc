"""Delivery against a real HTTP receiver on 127.0.0.1 (HELIXQ_WEBHOOK_ALLOW_PRIVATE)."""

import time
from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from shared.db.models import WebhookDelivery, WebhookEndpoint
from shared.webhooks.events import EventType
from shared.webhooks.secrets import current_secret, rotate_secret
from tests import standard_webhooks
from tests.integration.webhooks.conftest import (
    Receiver,
    RecordingSender,
    Reply,
    add_delivery,
    load,
    make_due,
    webhook_settings,
)
from workers.webhooks.delivery import DeliveryDeps, deliver, utc_now


def new_delivery(sessions: sessionmaker[Session], tenant_id: UUID, url: str) -> UUID:
    delivery_id = add_delivery(sessions, tenant_id, url)
    assert delivery_id is not None
    return delivery_id


def secret_of(sessions: sessionmaker[Session], tenant_id: UUID) -> str:
    with sessions.begin() as session:
        return current_secret(session, tenant_id)


def test_success_is_signed_per_the_spec_and_recorded(
    deps: DeliveryDeps, sessions, tenant_id: UUID, receiver: Receiver
) -> None:
    delivery_id = new_delivery(sessions, tenant_id, receiver.url)
    deliver(delivery_id, deps)

    [request] = receiver.received
    secret = secret_of(sessions, tenant_id)
    assert standard_webhooks.is_valid(
        secret, request.headers, request.body, now_s=time.time()
    )
    assert request.headers["webhook-id"] == f"msg_{delivery_id.hex}"
    assert request.headers["content-type"] == "application/json"
    assert request.json["type"] == "job.succeeded"
    assert request.json["data"] == {"id": "job-1"}
    delivery = load(sessions, delivery_id)
    assert delivery.status == "succeeded"
    assert delivery.delivered_at is not None
    assert delivery.attempt_count == 1
    [entry] = delivery.attempts_log
    assert entry["status_code"] == 204
    assert entry["error"] is None
    assert entry["duration_ms"] >= 0


def test_500_then_retry_at_5s_with_the_same_webhook_id(
    deps: DeliveryDeps, sender: RecordingSender, sessions, tenant_id, receiver
) -> None:
    receiver.replies.append(Reply(500))
    delivery_id = new_delivery(sessions, tenant_id, receiver.url)
    before = utc_now()
    deliver(delivery_id, deps)

    delivery = load(sessions, delivery_id)
    assert delivery.status == "pending"
    assert delivery.attempt_count == 1
    assert delivery.attempts_log[0]["status_code"] == 500
    assert delivery.next_attempt_at is not None
    wait = delivery.next_attempt_at - before
    assert timedelta(seconds=5) <= wait < timedelta(seconds=7)
    assert sender.sent == [(delivery_id, pytest.approx(5, abs=1))]

    deliver(delivery_id, deps)  # not due yet: nothing is sent
    assert len(receiver.received) == 1

    make_due(sessions, delivery_id)
    deliver(delivery_id, deps)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert load(sessions, delivery_id).status == "succeeded"
    assert load(sessions, delivery_id).attempt_count == 2


def test_redirect_is_a_failure_and_not_followed(
    deps: DeliveryDeps, sessions, tenant_id, receiver
) -> None:
    receiver.replies.append(Reply(302, {"location": receiver.url + "/elsewhere"}))
    delivery_id = new_delivery(sessions, tenant_id, receiver.url)
    deliver(delivery_id, deps)

    assert [r.path for r in receiver.received] == ["/hook"]
    delivery = load(sessions, delivery_id)
    assert delivery.status == "pending"
    assert delivery.attempts_log[0]["status_code"] == 302
    assert delivery.attempts_log[0]["error"] == "redirect 302 not followed"


def test_410_disables_the_endpoint_and_later_deliveries(
    deps: DeliveryDeps, sessions, tenant_id, receiver
) -> None:
    receiver.replies.append(Reply(410))
    gone = new_delivery(sessions, tenant_id, receiver.url)
    waiting = new_delivery(sessions, tenant_id, receiver.url)
    deliver(gone, deps)

    assert load(sessions, gone).status == "disabled"
    assert load(sessions, waiting).status == "disabled"
    assert add_delivery(sessions, tenant_id, receiver.url) is None  # skipped
    deliver(waiting, deps)
    assert len(receiver.received) == 1


def test_pending_delivery_to_a_disabled_endpoint_is_not_sent(
    deps: DeliveryDeps, sessions, tenant_id, receiver
) -> None:
    delivery_id = new_delivery(sessions, tenant_id, receiver.url)
    with sessions.begin() as session:  # disabled after the row was written
        session.add(
            WebhookEndpoint(
                tenant_id=tenant_id,
                url=receiver.url,
                disabled_at=utc_now(),
                disabled_reason="410 Gone",
            )
        )
    deliver(delivery_id, deps)
    assert receiver.received == []
    assert load(sessions, delivery_id).status == "disabled"


def test_429_honours_retry_after(
    deps: DeliveryDeps, sender: RecordingSender, sessions, tenant_id, receiver
) -> None:
    receiver.replies.append(Reply(429, {"retry-after": "120"}))
    delivery_id = new_delivery(sessions, tenant_id, receiver.url)
    before = utc_now()
    deliver(delivery_id, deps)

    delivery = load(sessions, delivery_id)
    assert delivery.status == "pending"
    assert delivery.attempts_log[0]["status_code"] == 429
    wait = delivery.next_attempt_at - before
    assert timedelta(seconds=120) <= wait < timedelta(seconds=122)
    assert sender.sent == [(delivery_id, pytest.approx(120, abs=1))]


def test_timeout_is_a_retried_failure(
    deps: DeliveryDeps, sessions, tenant_id, receiver
) -> None:
    receiver.replies.append(Reply(204, delay_s=1.0))
    quick = replace(deps, settings=webhook_settings(helixq_webhook_timeout_s=0.2))
    delivery_id = new_delivery(sessions, tenant_id, receiver.url)
    deliver(delivery_id, quick)

    delivery = load(sessions, delivery_id)
    assert delivery.status == "pending"
    entry = delivery.attempts_log[0]
    assert entry["status_code"] is None
    assert "Timeout" in entry["error"]
    assert entry["duration_ms"] < 1000


def test_long_waits_are_left_to_the_sweep(
    deps: DeliveryDeps, sender: RecordingSender, sessions, tenant_id, receiver
) -> None:
    receiver.replies.append(Reply(503))
    delivery_id = new_delivery(sessions, tenant_id, receiver.url)
    with sessions.begin() as session:  # as after the 5 s and 5 min retries
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(attempt_count=2)
        )
    deliver(delivery_id, deps)
    delivery = load(sessions, delivery_id)
    assert delivery.next_attempt_at - utc_now() > timedelta(minutes=29)
    assert sender.sent == []


def test_used_up_schedule_fails(
    deps: DeliveryDeps, sessions, tenant_id, receiver
) -> None:
    receiver.replies.extend([Reply(500), Reply(500)])
    short = replace(deps, settings=webhook_settings(helixq_webhook_retry_schedule="5s"))
    delivery_id = new_delivery(sessions, tenant_id, receiver.url)
    deliver(delivery_id, short)
    make_due(sessions, delivery_id)
    deliver(delivery_id, short)
    delivery = load(sessions, delivery_id)
    assert delivery.status == "failed"
    assert delivery.next_attempt_at is None
    assert [e["status_code"] for e in delivery.attempts_log] == [500, 500]


def test_a_name_rebound_to_an_ipv4_compatible_loopback_is_refused_at_connect(
    deps: DeliveryDeps, sessions, tenant_id, receiver
) -> None:
    url = receiver.url.replace("127.0.0.1", "hooks.example.com")
    delivery_id = new_delivery(sessions, tenant_id, url)
    rebound = replace(
        deps,
        settings=webhook_settings(helixq_webhook_allow_private=False),
        resolve=lambda host, port: ["::127.0.0.1"],
    )
    deliver(delivery_id, rebound)

    assert receiver.received == []
    delivery = load(sessions, delivery_id)
    assert delivery.status == "failed"
    [entry] = delivery.attempts_log
    assert entry["error"] == (
        "webhook URL refused: the host resolves to a loopback address "
        "inside an IPv4-compatible IPv6 address"
    )


def test_delivering_twice_sends_once(
    deps: DeliveryDeps, sessions, tenant_id, receiver
) -> None:
    delivery_id = new_delivery(sessions, tenant_id, receiver.url)
    deliver(delivery_id, deps)
    deliver(delivery_id, deps)
    assert len(receiver.received) == 1


def test_rotation_signs_with_both_secrets_until_the_old_expires(
    deps: DeliveryDeps, sessions, tenant_id, receiver
) -> None:
    old = secret_of(sessions, tenant_id)
    with sessions.begin() as session:
        new = rotate_secret(
            session, tenant_id, now=utc_now(), overlap=timedelta(hours=24)
        )
    delivery_id = new_delivery(sessions, tenant_id, receiver.url)
    deliver(delivery_id, deps)
    [request] = receiver.received
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert standard_webhooks.is_valid(
            secret, request.headers, request.body, now_s=time.time()
        )

    with sessions.begin() as session:
        rotate_secret(session, tenant_id, now=utc_now(), overlap=timedelta(0))
    again = new_delivery(sessions, tenant_id, receiver.url)
    deliver(again, deps)
    latest = receiver.received[-1]
    assert len(latest.headers["webhook-signature"].split(" ")) == 1
    assert not standard_webhooks.is_valid(
        old, latest.headers, latest.body, now_s=time.time()
    )


def test_a_key_an_older_payload_holds_is_masked_in_the_signed_body(
    deps: DeliveryDeps, sessions, tenant_id: UUID, receiver: Receiver
) -> None:
    # Written before upstream text was redacted: the key is in the job's error.
    leaked = {"code": "upstream_unauthorized", "message": "Bearer sk-or-v1-abcdef0123"}
    delivery_id = add_delivery(
        sessions,
        tenant_id,
        receiver.url,
        event_type=EventType.JOB_FAILED,
        data={"id": "job-1", "error": leaked},
    )
    assert delivery_id is not None

    deliver(delivery_id, deps)

    [request] = receiver.received
    assert b"abcdef0123" not in request.body
    assert request.json["data"]["error"]["message"] == "Bearer ***"
    assert standard_webhooks.is_valid(
        secret_of(sessions, tenant_id), request.headers, request.body, now_s=time.time()
    )
