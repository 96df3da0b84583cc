"""The POST to a batch's `callback_url` when it ends: body, signature, retries.

OpenRouter documents the events (`batch.completed`, `.failed`, `.cancelled`,
`.expired`) but not their body or signature. Its video webhooks are the template:
`{"type", "created_at", "data": {...}}`, an `X-OpenRouter-Idempotency-Key` of
`<id>-<status>`, and `X-OpenRouter-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
"<t>,<raw body>">` only when a signing secret is set. `HELIXQ_SIM_BATCH_CALLBACK_BODY`
switches to posting the bare batch object instead.
"""

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from simulator.batches.batch import Batch
from simulator.batches.payloads import batch_json, counts_json
from simulator.billing import json_number
from simulator.settings import SimulatorSettings

IDEMPOTENCY_HEADER = "X-OpenRouter-Idempotency-Key"
SIGNATURE_HEADER = "X-OpenRouter-Signature"


@dataclass(slots=True)
class Delivery:
    """One callback and how its attempts went, for GET /_sim/batches/callbacks."""

    batch_id: str
    event: str
    url: str
    is_signed: bool
    attempts: int = 0
    status: int | None = None  # the last answer's HTTP status
    error: str | None = None  # the last attempt's connection error
    delivered: bool = False

    def as_json(self) -> dict[str, Any]:
        """Describe the delivery."""
        return asdict(self)


def signature_header(secret: str, timestamp: int, raw: bytes) -> str:
    """`t=<unix>,v1=<hex>`: HMAC-SHA256 over `<t>,<raw body>`."""
    mac = hmac.new(secret.encode(), f"{timestamp},".encode() + raw, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _event_json(batch: Batch) -> dict[str, Any]:
    ended = datetime.fromtimestamp(batch.finalized_at or time.time(), UTC)
    data: dict[str, Any] = {
        "id": batch.id,
        "object": "batch",
        "status": batch.status.value,
        "request_counts": counts_json(batch),
        "usage": None
        if batch.usage is None
        else {"cost": json_number(batch.usage.cost), "is_byok": False},
    }
    if batch.error is not None:
        data["error"] = {"message": batch.error}
    return {
        "type": f"batch.{batch.status.value}",
        "created_at": ended.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "data": data,
    }


def callback_body(batch: Batch, settings: SimulatorSettings) -> bytes:
    """The bytes posted for an ended batch, in the configured shape."""
    if settings.batch_callback_body == "object":
        return json.dumps(batch_json(batch, with_results=False)).encode()
    return json.dumps(_event_json(batch)).encode()


def _headers(batch: Batch, raw: bytes, settings: SimulatorSettings) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        IDEMPOTENCY_HEADER: f"{batch.id}-{batch.status.value}",
    }
    secret = settings.batch_callback_secret
    if secret is not None:
        stamp = int(time.time())
        headers[SIGNATURE_HEADER] = signature_header(
            secret.get_secret_value(), stamp, raw
        )
    return headers


async def _attempt(
    session: aiohttp.ClientSession, delivery: Delivery, raw: bytes, headers: Any
) -> None:
    delivery.attempts += 1
    try:
        async with session.post(delivery.url, data=raw, headers=headers) as response:
            delivery.status, delivery.error = response.status, None
            delivery.delivered = 200 <= response.status < 300
    except (aiohttp.ClientError, TimeoutError) as error:
        delivery.status, delivery.error = None, type(error).__name__


async def deliver(
    session: aiohttp.ClientSession,
    batch: Batch,
    delivery: Delivery,
    settings: SimulatorSettings,
) -> None:
    """POST the callback until a 2xx, at most `batch_callback_attempts` times."""
    raw = callback_body(batch, settings)
    for attempt in range(settings.batch_callback_attempts):
        if attempt:
            await asyncio.sleep(settings.batch_callback_retry_s * 2 ** (attempt - 1))
        await _attempt(session, delivery, raw, _headers(batch, raw, settings))
        if delivery.delivered:
            return


def new_delivery(batch: Batch, settings: SimulatorSettings) -> Delivery:
    """Start the record of a batch's callback."""
    assert batch.callback_url is not None  # only batches with one are queued
    return Delivery(
        batch_id=batch.id,
        event=f"batch.{batch.status.value}",
        url=batch.callback_url,
        is_signed=settings.batch_callback_secret is not None,
    )
