"""Webhook use cases: the delivery log, replay, the tenant's default URL.

Each opens its own transaction; replay publishes its task after the commit.
"""

import base64
import binascii
import logging
from datetime import UTC, datetime
from functools import partial
from uuid import UUID

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.deps import Caller
from broker_api.enqueue import Enqueuer
from broker_api.webhooks import queries
from broker_api.webhooks.views import (
    DeliveryDetailView,
    DeliveryList,
    EndpointView,
    delivery_detail_view,
    delivery_view,
)
from shared.db.models import WebhookEndpoint
from shared.errors import InvalidRequest
from shared.webhooks.addresses import Resolver, resolve_target
from shared.webhooks.errors import DeliveryNotFound, DeliveryNotReplayable
from shared.webhooks.outbox import DeliveryStatus, is_disabled

logger = logging.getLogger(__name__)


async def check_webhook_url(
    url: str, *, allow_private: bool, resolve: Resolver
) -> None:
    """Refuse a URL the SSRF policy refuses (raises DestinationRefused).

    Resolving blocks, so it runs in a thread; call it before opening a transaction.
    """
    check = partial(resolve_target, url, allow_private=allow_private, resolve=resolve)
    await anyio.to_thread.run_sync(check)


def encode_cursor(created_at: datetime, delivery_id: UUID) -> str:
    """An opaque position in the newest-first list."""
    raw = f"{created_at.isoformat()}|{delivery_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The position a cursor encodes; raises InvalidRequest for a bad one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, _, delivery_id = (
            base64.urlsafe_b64decode(padded).decode().partition("|")
        )
        return datetime.fromisoformat(moment), UUID(delivery_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequest(
            "invalid cursor: pass next_cursor from the previous page",
            details={"field": "cursor"},
        ) from None


async def list_deliveries(
    session: AsyncSession,
    caller: Caller,
    *,
    limit: int,
    cursor: str | None,
    status: DeliveryStatus | None,
) -> DeliveryList:
    """One page of the tenant's deliveries, newest first."""
    before = decode_cursor(cursor) if cursor else None
    async with session.begin():
        rows = await queries.list_deliveries(
            session, caller.tenant_id, limit=limit + 1, before=before, status=status
        )
    page, has_more = rows[:limit], len(rows) > limit
    last = page[-1] if has_more else None
    return DeliveryList(
        data=[delivery_view(row) for row in page],
        has_more=has_more,
        next_cursor=encode_cursor(last.created_at, last.id) if last else None,
    )


async def read_delivery(
    session: AsyncSession, caller: Caller, delivery_id: UUID
) -> DeliveryDetailView:
    async with session.begin():
        delivery = await queries.find_delivery(session, caller.tenant_id, delivery_id)
        if delivery is None:
            raise DeliveryNotFound(delivery_id)
        return delivery_detail_view(delivery)


async def replay_delivery(
    session: AsyncSession,
    enqueuer: Enqueuer,
    caller: Caller,
    delivery_id: UUID,
) -> DeliveryDetailView:
    """Make the delivery pending again and send it now, under the same webhook-id."""
    async with session.begin():
        delivery = await queries.find_delivery(
            session, caller.tenant_id, delivery_id, for_update=True
        )
        if delivery is None:
            raise DeliveryNotFound(delivery_id)
        _check_replayable(delivery.status, delivery_id)
        if await session.run_sync(is_disabled, caller.tenant_id, delivery.url):
            raise DeliveryNotReplayable(
                delivery_id, "its endpoint answered 410 Gone; register it again"
            )
        delivery.status = DeliveryStatus.PENDING
        delivery.attempt_count = 0  # a replay gets the whole retry schedule again
        delivery.next_attempt_at = datetime.now(UTC)
        view = delivery_detail_view(delivery)
    try:
        await enqueuer.enqueue_webhook(delivery_id)
    except Exception:
        logger.warning(
            "delivery %s reset but not published; the sweep will send it",
            delivery_id,
            exc_info=True,
        )
    return view


def _check_replayable(status: str, delivery_id: UUID) -> None:
    if status == DeliveryStatus.DELIVERING:
        raise DeliveryNotReplayable(delivery_id, "it is being delivered right now")


async def read_endpoint(session: AsyncSession, caller: Caller) -> EndpointView:
    async with session.begin():
        tenant = await queries.find_tenant(session, caller.tenant_id)
        return await _endpoint_view(session, caller.tenant_id, tenant.webhook_url)


async def set_endpoint(
    session: AsyncSession, caller: Caller, url: str | None
) -> EndpointView:
    """Set (or with None, remove) the default URL; registering re-enables it.

    Check the URL with `check_webhook_url` first: this function trusts it.
    """
    async with session.begin():
        tenant = await queries.find_tenant(session, caller.tenant_id)
        tenant.webhook_url = url
        if url is not None:
            endpoint = await queries.find_endpoint(session, caller.tenant_id, url)
            if endpoint is None:
                session.add(WebhookEndpoint(tenant_id=caller.tenant_id, url=url))
            else:
                endpoint.disabled_at = endpoint.disabled_reason = None
        await session.flush()
        return await _endpoint_view(session, caller.tenant_id, url)


async def _endpoint_view(
    session: AsyncSession, tenant_id: UUID, url: str | None
) -> EndpointView:
    if url is None:
        return EndpointView(url=None)
    endpoint = await queries.find_endpoint(session, tenant_id, url)
    if endpoint is None:
        return EndpointView(url=url)
    return EndpointView(
        url=url,
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
    )
