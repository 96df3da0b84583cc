"""Operator use cases: tenants and their keys (shared.tenancy, through run_sync)."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from broker_api.admin.views import IssuedKeyView, TenantCreate, TenantView
from shared.db.models import Tenant
from shared.tenancy import create_api_key, create_tenant, find_tenant


async def add_tenant(session: AsyncSession, body: TenantCreate) -> IssuedKeyView:
    """Create a tenant and its first key; the key is in this answer and nowhere else."""

    def work(sync: Session) -> IssuedKeyView:
        tenant = create_tenant(
            sync,
            body.name,
            default_model=body.default_model,
            route_strategy=body.route_strategy,
            fallback_strategy=body.fallback_strategy,
        )
        issued = create_api_key(sync, tenant)
        return IssuedKeyView(
            tenant=TenantView.of(tenant), key=issued.key, prefix=issued.prefix
        )

    async with session.begin():
        return await session.run_sync(work)


async def add_key(
    session: AsyncSession, slug: str, name: str, expires_at: datetime | None
) -> IssuedKeyView:
    def work(sync: Session) -> IssuedKeyView:
        tenant = find_tenant(sync, slug)
        issued = create_api_key(sync, tenant, name=name, expires_at=expires_at)
        return IssuedKeyView(
            tenant=TenantView.of(tenant), key=issued.key, prefix=issued.prefix
        )

    async with session.begin():
        return await session.run_sync(work)


async def list_tenants(session: AsyncSession) -> list[TenantView]:
    async with session.begin():
        tenants = await session.scalars(select(Tenant).order_by(Tenant.slug))
        return [TenantView.of(tenant) for tenant in tenants]
