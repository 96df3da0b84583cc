"""The callback POST to `callback_url` when a batch ends: signed, retried, logged."""

import asyncio
import hashlib
import hmac
import time
from typing import Any

from pydantic import SecretStr

from simulator.settings import SimulatorSettings
from tests.unit.simulator.batch_harness import (
    advance,
    batch_body,
    created,
    slow_settings,
)
from tests.unit.simulator.harness import SimClient, running
from tests.webhook_receiver import Receiver, Reply

SECRET = "whsec-sim-test"


async def _received(receiver: Receiver, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(receiver.received) < count:
        assert time.monotonic() < deadline, receiver.received
        await asyncio.sleep(0.02)


async def _deliveries(client: SimClient) -> list[dict[str, Any]]:
    response = await client.session.get("/_sim/batches/callbacks")
    body: dict[str, Any] = await response.json()
    deliveries: list[dict[str, Any]] = body["deliveries"]
    return deliveries


async def _settled_delivery(client: SimClient) -> dict[str, Any]:
    """The one delivery, once its last answer is recorded."""
    deadline = time.monotonic() + 10
    while True:
        [delivery] = await _deliveries(client)
        if delivery["delivered"]:
            return delivery
        assert time.monotonic() < deadline, delivery
        await asyncio.sleep(0.02)


async def test_an_ended_batch_posts_a_signed_callback(
    settings: SimulatorSettings, receiver: Receiver
) -> None:
    signed = slow_settings(settings, batch_callback_secret=SecretStr(SECRET))
    async with running(signed) as client:
        batch_id = await created(client, batch_body(callback_url=receiver.url))
        batch = await advance(client, batch_id)
        await _received(receiver, 1)
    [request] = receiver.received
    headers, raw = request.headers, request.body
    assert headers["x-openrouter-idempotency-key"] == f"{batch_id}-completed"
    stamp, signature = (
        part.split("=", 1)[1] for part in headers["x-openrouter-signature"].split(",")
    )
    expected = hmac.new(SECRET.encode(), f"{stamp},".encode() + raw, hashlib.sha256)
    assert hmac.compare_digest(expected.hexdigest(), signature)
    assert abs(int(stamp) - time.time()) < 60
    event = request.json
    assert event["type"] == "batch.completed"
    assert event["created_at"].endswith("Z")
    data = event["data"]
    assert data["id"] == batch_id
    assert data["status"] == "completed"
    assert data["usage"] == {"cost": batch["usage"]["cost"], "is_byok": False}


async def test_callback_is_unsigned_without_a_secret(
    settings: SimulatorSettings, receiver: Receiver
) -> None:
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body(callback_url=receiver.url))
        await advance(client, batch_id)
        await _received(receiver, 1)
    assert "x-openrouter-signature" not in receiver.received[0].headers


async def test_failed_batch_posts_batch_failed(
    settings: SimulatorSettings, receiver: Receiver
) -> None:
    bad = [{"custom_id": "x", "body": {"messages": []}}]
    async with running(slow_settings(settings)) as client:
        batch_id = await created(client, batch_body(bad, callback_url=receiver.url))
        await advance(client, batch_id)
        await _received(receiver, 1)
    data = receiver.received[0].json["data"]
    assert receiver.received[0].json["type"] == "batch.failed"
    assert "'x'" in data["error"]["message"]


async def test_a_refused_callback_is_retried(
    settings: SimulatorSettings, receiver: Receiver
) -> None:
    receiver.replies.append(Reply(status=500))
    quick = slow_settings(settings, batch_callback_retry_s=0.05)
    async with running(quick) as client:
        batch_id = await created(client, batch_body(callback_url=receiver.url))
        await advance(client, batch_id)
        await _received(receiver, 2)
        delivery = await _settled_delivery(client)
    first, second = receiver.received
    key = "x-openrouter-idempotency-key"
    assert first.headers[key] == second.headers[key]
    assert delivery["batch_id"] == batch_id
    assert delivery["attempts"] == 2
    assert delivery["status"] == 204
    assert delivery["delivered"] is True


async def test_object_body_posts_the_batch_itself(
    settings: SimulatorSettings, receiver: Receiver
) -> None:
    plain = slow_settings(settings, batch_callback_body="object")
    async with running(plain) as client:
        batch_id = await created(client, batch_body(callback_url=receiver.url))
        await advance(client, batch_id)
        await _received(receiver, 1)
    body = receiver.received[0].json
    assert body["id"] == batch_id
    assert body["object"] == "batch"
    assert body["status"] == "completed"
    assert body["results"] is None


async def test_a_batch_that_ends_by_time_calls_back_unread(
    settings: SimulatorSettings, receiver: Receiver
) -> None:
    timed = settings.model_copy(
        update={"batch_validating_s": 0.05, "batch_in_progress_s": 0.05}
    )
    async with running(timed) as client:
        await created(client, batch_body(callback_url=receiver.url))
        await _received(receiver, 1)
    assert receiver.received[0].json["type"] == "batch.completed"
