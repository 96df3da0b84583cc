"""The outbox write, the connect-time SSRF check and the sweep, on real Postgres."""

from dataclasses import replace
from datetime import timedelta
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.db.models import (
    Job,
    Tenant,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSecret,
)
from shared.webhooks.outbox import record_job_event
from tests.integration.webhooks.conftest import (
    Receiver,
    RecordingSender,
    add_delivery,
    load,
    webhook_settings,
)
from workers.webhooks.delivery import DeliveryDeps, deliver, deliver_due, utc_now


def set_default_url(sessions: sessionmaker[Session], tenant_id: UUID, url: str) -> None:
    with sessions.begin() as session:
        session.execute(
            update(Tenant).where(Tenant.id == tenant_id).values(webhook_url=url)
        )


def test_own_url_wins_over_the_tenant_default(sessions, tenant_id) -> None:
    set_default_url(sessions, tenant_id, "https://default.example.com/")
    delivery_id = add_delivery(sessions, tenant_id, "https://own.example.com/")
    assert load(sessions, delivery_id).url == "https://own.example.com/"


def test_tenant_default_is_used_without_an_own_url(sessions, tenant_id) -> None:
    set_default_url(sessions, tenant_id, "https://default.example.com/")
    delivery_id = add_delivery(sessions, tenant_id, None)
    delivery = load(sessions, delivery_id)
    assert delivery.url == "https://default.example.com/"
    assert delivery.status == "pending"
    assert delivery.payload["type"] == "job.succeeded"


def test_no_url_records_nothing(sessions, tenant_id) -> None:
    assert add_delivery(sessions, tenant_id, None) is None


def test_disabled_endpoint_records_nothing(sessions, tenant_id) -> None:
    with sessions.begin() as session:
        session.add(
            WebhookEndpoint(
                tenant_id=tenant_id,
                url="https://gone.example.com/",
                disabled_at=utc_now(),
            )
        )
    assert add_delivery(sessions, tenant_id, "https://gone.example.com/") is None


def test_job_event_is_written_in_the_finishing_transaction(
    db_session: Session, tenant_id
) -> None:
    job = Job(
        tenant_id=tenant_id,
        status="succeeded",
        request={"messages": []},
        webhook_url="https://hooks.example.com/",
        model="openai/gpt-4o-mini",
    )
    db_session.add(job)
    db_session.flush()
    delivery_id = record_job_event(db_session, job, now=utc_now())
    delivery = db_session.get(WebhookDelivery, delivery_id)
    assert delivery.event_type == "job.succeeded"
    assert delivery.resource_id == job.id
    assert delivery.payload["data"]["id"] == str(job.id)
    # db_session rolls back at the end: the event goes with the job.


def test_unfinished_job_records_no_event(db_session: Session, tenant_id) -> None:
    job = Job(
        tenant_id=tenant_id,
        status="running",
        request={},
        webhook_url="https://x.example.com/",
    )
    assert record_job_event(db_session, job, now=utc_now()) is None


def test_connect_time_check_refuses_a_name_that_now_resolves_privately(
    deps: DeliveryDeps, sessions, tenant_id, receiver: Receiver
) -> None:
    # Registered while hooks.example.com looked public; DNS now answers 127.0.0.1.
    rebound = replace(
        deps,
        settings=webhook_settings(helixq_webhook_allow_private=False),
        resolve=lambda host, port: ["127.0.0.1"],
    )
    port = receiver.url.split(":")[2].split("/")[0]
    delivery_id = add_delivery(
        sessions, tenant_id, f"http://hooks.example.com:{port}/hook"
    )
    deliver(delivery_id, rebound)

    assert receiver.received == []
    delivery = load(sessions, delivery_id)
    assert delivery.status == "failed"
    assert "loopback" in delivery.attempts_log[0]["error"]


def test_connection_goes_to_the_checked_address_with_the_original_host(
    deps: DeliveryDeps, sessions, tenant_id, receiver: Receiver
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    url = f"http://hooks.example.com:{port}/hook"
    pinned = replace(deps, resolve=lambda host, port: ["127.0.0.1"])
    delivery_id = add_delivery(sessions, tenant_id, url)
    deliver(delivery_id, pinned)
    [request] = receiver.received
    assert request.headers["host"] == f"hooks.example.com:{port}"
    assert load(sessions, delivery_id).status == "succeeded"


def test_unresolvable_host_is_retried(deps: DeliveryDeps, sessions, tenant_id) -> None:
    def no_dns(host: str, port: int) -> list[str]:
        raise OSError("temporary failure in name resolution")

    delivery_id = add_delivery(sessions, tenant_id, "https://hooks.example.com/")
    deliver(delivery_id, replace(deps, resolve=no_dns))
    delivery = load(sessions, delivery_id)
    assert delivery.status == "pending"
    assert "does not resolve" in delivery.attempts_log[0]["error"]


def test_sweep_resends_overdue_and_lapsed_deliveries_only(
    deps: DeliveryDeps, sender: RecordingSender, sessions, tenant_id
) -> None:
    fresh = add_delivery(sessions, tenant_id, "https://a.example.com/")
    overdue = add_delivery(sessions, tenant_id, "https://b.example.com/")
    lapsed = add_delivery(sessions, tenant_id, "https://c.example.com/")
    later = add_delivery(sessions, tenant_id, "https://d.example.com/")
    past = func.now() - timedelta(minutes=1)
    with sessions.begin() as session:
        for delivery_id, values in (
            (overdue, {"next_attempt_at": past}),
            (lapsed, {"status": "delivering", "next_attempt_at": past}),
            (later, {"next_attempt_at": func.now() + timedelta(hours=1)}),
        ):
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(**values)
            )
    deliver_due(deps)
    swept = {delivery_id for delivery_id, _ in sender.sent}
    assert {overdue, lapsed} <= swept
    assert fresh not in swept
    assert later not in swept


def test_a_lapsed_claim_can_be_taken_again(
    deps: DeliveryDeps, sessions, tenant_id, receiver: Receiver
) -> None:
    delivery_id = add_delivery(sessions, tenant_id, receiver.url)
    with sessions.begin() as session:  # a worker claimed it, then died
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(
                status="delivering", next_attempt_at=func.now() - timedelta(seconds=1)
            )
        )
    deliver(delivery_id, deps)
    assert len(receiver.received) == 1
    assert load(sessions, delivery_id).status == "succeeded"


def test_a_live_claim_is_not_taken(
    deps: DeliveryDeps, sessions, tenant_id, receiver
) -> None:
    delivery_id = add_delivery(sessions, tenant_id, receiver.url)
    with sessions.begin() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(
                status="delivering", next_attempt_at=func.now() + timedelta(minutes=1)
            )
        )
    deliver(delivery_id, deps)
    assert receiver.received == []


def test_first_delivery_creates_the_tenant_secret_once(
    deps: DeliveryDeps, sessions, tenant_id, receiver
) -> None:
    for _ in range(2):
        deliver(add_delivery(sessions, tenant_id, receiver.url), deps)
    with sessions() as session:
        count = session.scalar(
            select(func.count()).where(WebhookSecret.tenant_id == tenant_id)
        )
    assert count == 1
    assert len(receiver.received) == 2
