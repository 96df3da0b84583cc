"""Deliver one webhook from the outbox: claim, sign, send, record the try.

Safe to run twice: the claim decides who sends. Retries follow the schedule;
short waits are re-published with a countdown, long ones are left to the sweep
(`deliver_due`), so no message waits hours in the broker.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import redis
from sqlalchemy.orm import Session, sessionmaker

from shared.redaction import redact_json
from shared.settings import WebhookSettings
from shared.webhooks.addresses import Resolver, system_resolver
from shared.webhooks.errors import DestinationRefused
from shared.webhooks.outbox import DeliveryStatus
from shared.webhooks.signing import message_id, signed_headers
from workers.runtime.metrics import record_webhook_delivery
from workers.webhooks import store
from workers.webhooks.outcome import classify
from workers.webhooks.pinned_http import HttpTry, post_pinned, resolve_checked
from workers.webhooks.sender import DeliverySender

logger = logging.getLogger(__name__)

# Waits up to this long ride on a Celery countdown; longer ones on the sweep.
COUNTDOWN_MAX_S = 300.0
# The sweep leaves a due row this long to its own message before re-sending.
SWEEP_GRACE_S = 15.0
SWEEP_LIMIT = 500
# A claim outlives the longest possible try before the sweep may hand it out again.
LEASE_MARGIN_S = 60.0


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DeliveryDeps:
    """What a delivery needs; tests replace the resolver and the clock."""

    sessions: sessionmaker[Session]
    settings: WebhookSettings
    sender: DeliverySender
    resolve: Resolver = system_resolver
    clock: Callable[[], datetime] = field(default=utc_now)
    metrics: redis.Redis | None = None  # where tries are counted for /metrics


def deliver(delivery_id: UUID, deps: DeliveryDeps) -> None:
    """Send one delivery if it is due and unclaimed; record the try."""
    with deps.sessions.begin() as session:
        claimed = store.claim(
            session, delivery_id, lease_s=lease_s(deps.settings), now=deps.clock()
        )
    if claimed is None:
        logger.debug("delivery %s: not due or already taken", delivery_id)
        return
    answer = _send(claimed, deps)
    now = deps.clock()
    record = classify(
        answer, attempts_made=claimed.attempt_count + 1, settings=deps.settings, now=now
    )
    with deps.sessions.begin() as session:
        if not store.record_try(session, delivery_id, record):
            return
        if record.status == DeliveryStatus.DISABLED:
            store.disable_endpoint(
                session, claimed.tenant_id, claimed.url, now=now, reason="410 Gone"
            )
    logger.info("delivery %s: %s (%s)", delivery_id, record.status, _summary(answer))
    if deps.metrics is not None:
        record_webhook_delivery(deps.metrics, record.status)
    _schedule(delivery_id, record, now, deps.sender)


def _send(claimed: store.Claimed, deps: DeliveryDeps) -> HttpTry | DestinationRefused:
    settings = deps.settings
    try:
        address = resolve_checked(
            claimed.url,
            allow_private=settings.helixq_webhook_allow_private,
            resolve=deps.resolve,
        )
    except DestinationRefused as refused:
        return refused
    # The last way out to the tenant: whatever a stored payload holds, no secret
    # shape leaves in the body.
    payload = redact_json(claimed.payload)
    body = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = int(deps.clock().timestamp())  # each try says when it was sent
    headers = signed_headers(
        claimed.signing_secrets, message_id(claimed.id), timestamp, body
    )
    return post_pinned(
        claimed.url,
        address,
        headers=headers,
        body=body,
        timeout_s=settings.helixq_webhook_timeout_s,
    )


def _summary(answer: HttpTry | DestinationRefused) -> str:
    if isinstance(answer, DestinationRefused):
        return answer.message
    return f"HTTP {answer.status_code}" if answer.status_code else str(answer.error)


def _schedule(
    delivery_id: UUID, record: store.TryRecord, now: datetime, sender: DeliverySender
) -> None:
    if record.next_attempt_at is None:
        return
    wait_s = (record.next_attempt_at - now).total_seconds()
    if wait_s <= COUNTDOWN_MAX_S:
        sender.send(delivery_id, countdown_s=max(0.0, wait_s))


def deliver_due(deps: DeliveryDeps) -> int:
    """Re-send deliveries whose message may be lost (the periodic sweep); how many."""
    with deps.sessions.begin() as session:
        due = store.due_deliveries(session, grace_s=SWEEP_GRACE_S, limit=SWEEP_LIMIT)
    for delivery_id in due:
        deps.sender.send(delivery_id)
    if due:
        logger.info("re-sent %d due webhook deliveries", len(due))
    return len(due)


def lease_s(settings: WebhookSettings) -> float:
    """How long a claimed delivery stays with its worker: two timeouts and a margin."""
    return settings.helixq_webhook_timeout_s * 2 + LEASE_MARGIN_S
