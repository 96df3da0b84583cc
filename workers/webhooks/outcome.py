"""What a try means for the delivery: done, retry when, give up, or disable."""

from datetime import datetime, timedelta
from typing import Any

from shared.settings import WebhookSettings
from shared.webhooks.errors import DestinationRefused, HostUnresolved
from shared.webhooks.outbox import DeliveryStatus
from shared.webhooks.schedule import next_delay_s, retry_after_s
from workers.webhooks.pinned_http import HttpTry
from workers.webhooks.store import TryRecord

GONE = 410
TOO_MANY_REQUESTS = 429


def log_entry(answer: HttpTry | DestinationRefused, *, now: datetime) -> dict[str, Any]:
    """One `attempts_log` item: {at, status_code, error, duration_ms}."""
    if isinstance(answer, DestinationRefused):
        return {
            "at": now.isoformat(),
            "status_code": None,
            "error": answer.message,
            "duration_ms": 0,
        }
    error = answer.error
    if answer.status_code is not None and 300 <= answer.status_code < 400:
        error = f"redirect {answer.status_code} not followed"
    return {
        "at": now.isoformat(),
        "status_code": answer.status_code,
        "error": error,
        "duration_ms": answer.duration_ms,
    }


def classify(
    answer: HttpTry | DestinationRefused,
    *,
    attempts_made: int,
    settings: WebhookSettings,
    now: datetime,
) -> TryRecord:
    """The row's next state after try number `attempts_made`."""
    entry = log_entry(answer, now=now)
    if isinstance(answer, DestinationRefused) and not isinstance(
        answer, HostUnresolved
    ):
        # A refused address will not become acceptable by waiting.
        return TryRecord(entry, DeliveryStatus.FAILED)
    http_try = answer if isinstance(answer, HttpTry) else None
    code = http_try.status_code if http_try else None
    if code is not None and 200 <= code < 300:
        return TryRecord(entry, DeliveryStatus.SUCCEEDED, delivered_at=now)
    if code == GONE:
        return TryRecord(entry, DeliveryStatus.DISABLED)
    asked = (
        retry_after_s(http_try.retry_after, now=now)
        if http_try and code == TOO_MANY_REQUESTS
        else None
    )
    delay_s = next_delay_s(
        settings.webhook_retry_delays_s, attempts_made, retry_after=asked
    )
    if delay_s is None:
        return TryRecord(entry, DeliveryStatus.FAILED)
    return TryRecord(
        entry, DeliveryStatus.PENDING, next_attempt_at=now + timedelta(seconds=delay_s)
    )
