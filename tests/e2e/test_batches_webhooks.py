"""A batch and a job announce their end by signed webhook, through the real
processes (API, worker consuming `webhooks`, beat running the batch sweep)."""

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from shared.tenancy import find_tenant
from shared.webhooks.secrets import current_secret
from tests import standard_webhooks
from tests.e2e.conftest import Client, Stack
from tests.e2e.test_pipeline import submit, wait_terminal
from tests.factories import make_messages
from tests.webhook_receiver import Received, Receiver

pytestmark = pytest.mark.timeout(120)

T = TypeVar("T")
BATCH_SIZE = 20
# A replay is published after its commit and sent by the next free webhook worker.
REPLAY_WITHIN_S = 3.0


def eventually(find: Callable[[], T | None], *, timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = find()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} after {timeout_s}s")


def event_of(receiver: Receiver, event_type: str, resource_id: str) -> Received | None:
    with receiver.lock:
        return next(
            (
                request
                for request in receiver.received
                if request.json["type"] == event_type
                and request.json["data"]["id"] == resource_id
            ),
            None,
        )


def assert_signed(engine: Engine, client: Client, request: Received) -> None:
    with Session(engine) as session, session.begin():
        secret = current_secret(session, find_tenant(session, client.slug).id)
    assert standard_webhooks.is_valid(
        secret, request.headers, request.body, now_s=time.time()
    )


def batch_when_ended(client: Client, batch_id: str) -> dict[str, Any] | None:
    view: dict[str, Any] = client.http.get(f"/v1/batches/{batch_id}").json()
    return view if view["status"] not in {"in_progress", "finalizing"} else None


def test_batch_completes_with_counts_results_and_a_signed_webhook(
    stack: Stack, tenant_client: Client, receiver: Receiver, engine: Engine
) -> None:
    body = {"model": "openai/gpt-4o-mini", "messages": make_messages()}
    requests = [{"custom_id": f"row-{n}", "body": body} for n in range(BATCH_SIZE)]
    response = tenant_client.http.post(
        "/v1/batches", json={"requests": requests, "webhook_url": receiver.url}
    )
    assert response.status_code == 201, response.text
    batch_id = response.json()["id"]

    view = eventually(
        lambda: batch_when_ended(tenant_client, batch_id), timeout_s=60, what="end"
    )

    assert view["status"] == "completed"
    assert view["completed_at"] is not None
    ended = {"succeeded": BATCH_SIZE, "failed": 0, "cancelled": 0, "expired": 0}
    assert view["request_counts"] == {
        "total": BATCH_SIZE,
        "completed": BATCH_SIZE,
        **ended,
        "pending": 0,
    }
    lines = tenant_client.http.get(f"/v1/batches/{batch_id}/results").text.splitlines()
    results = [json.loads(line) for line in lines]
    assert sorted(r["custom_id"] for r in results) == sorted(
        f"row-{n}" for n in range(BATCH_SIZE)
    )
    assert all(r["status"] == "succeeded" and r["response"] for r in results)
    event = eventually(
        lambda: event_of(receiver, "batch.completed", batch_id),
        timeout_s=30,
        what="batch.completed webhook",
    )
    assert event.json["data"]["request_counts"] == view["request_counts"]
    assert_signed(engine, tenant_client, event)
    # Batch items announce nothing of their own.
    assert {r.json["type"] for r in receiver.received} == {"batch.completed"}


def test_job_with_webhook_url_delivers_a_signed_job_succeeded(
    stack: Stack, tenant_client: Client, receiver: Receiver, engine: Engine
) -> None:
    job_id = submit(tenant_client, webhook_url=receiver.url)

    assert wait_terminal(tenant_client, job_id)["status"] == "succeeded"

    event = eventually(
        lambda: event_of(receiver, "job.succeeded", job_id),
        timeout_s=30,
        what="job.succeeded webhook",
    )
    assert event.json["data"]["status"] == "succeeded"
    assert_signed(engine, tenant_client, event)


def delivered_delivery(client: Client, job_id: str) -> dict[str, Any] | None:
    listed = client.http.get("/v1/webhooks/deliveries").json()["data"]
    return next(
        (
            delivery
            for delivery in listed
            if delivery["resource_id"] == job_id and delivery["status"] == "succeeded"
        ),
        None,
    )


def test_a_replayed_delivery_arrives_again_at_once_with_the_same_webhook_id(
    stack: Stack, tenant_client: Client, receiver: Receiver
) -> None:
    job_id = submit(tenant_client, webhook_url=receiver.url)
    assert wait_terminal(tenant_client, job_id)["status"] == "succeeded"
    delivery = eventually(
        lambda: delivered_delivery(tenant_client, job_id),
        timeout_s=30,
        what="job.succeeded webhook delivered",
    )

    replayed_at = time.monotonic()
    response = tenant_client.http.post(
        f"/v1/webhooks/deliveries/{delivery['id']}/replay"
    )
    assert response.status_code == 202, response.text

    def copies() -> list[Received] | None:
        with receiver.lock:
            found = [
                request
                for request in receiver.received
                if request.headers["webhook-id"] == delivery["webhook_id"]
            ]
        return found if len(found) == 2 else None

    # Published by the API itself: not left to the due-webhook sweep (every 15 s).
    first, second = eventually(copies, timeout_s=REPLAY_WITHIN_S, what="replay")
    assert time.monotonic() - replayed_at < REPLAY_WITHIN_S
    assert second.json == first.json
