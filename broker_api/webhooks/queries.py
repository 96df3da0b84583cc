"""SQL for webhook deliveries and endpoints, scoped by tenant. Never commits."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.models import Tenant, WebhookDelivery, WebhookEndpoint
from shared.webhooks.outbox import DeliveryStatus


async def find_delivery(
    session: AsyncSession,
    tenant_id: UUID,
    delivery_id: UUID,
    *,
    for_update: bool = False,
) -> WebhookDelivery | None:
    """The delivery if it belongs to the tenant; another tenant's is simply absent."""
    query = select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.tenant_id == tenant_id
    )
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def list_deliveries(
    session: AsyncSession,
    tenant_id: UUID,
    *,
    limit: int,
    before: tuple[datetime, UUID] | None,
    status: DeliveryStatus | None,
) -> Sequence[WebhookDelivery]:
    """Newest first, `limit` rows strictly older than the `before` position."""
    query = select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant_id)
    if before is not None:
        query = query.where(
            tuple_(WebhookDelivery.created_at, WebhookDelivery.id) < tuple_(*before)
        )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    query = query.order_by(
        WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()
    ).limit(limit)
    return (await session.scalars(query)).all()


async def find_tenant(session: AsyncSession, tenant_id: UUID) -> Tenant:
    """The caller's tenant row, locked: its default URL is about to change."""
    tenant = await session.scalar(
        select(Tenant).where(Tenant.id == tenant_id).with_for_update()
    )
    assert tenant is not None, "an authenticated caller's tenant exists"
    return tenant


async def find_endpoint(
    session: AsyncSession, tenant_id: UUID, url: str
) -> WebhookEndpoint | None:
    return await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.url == url
        )
    )
