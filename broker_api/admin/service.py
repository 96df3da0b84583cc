"""Operator use cases: tenants and their keys (shared.tenancy, through run_sync)."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from broker_api.admin.views import IssuedKeyView, TenantCreate, TenantView
from broker_api.keys import service as keys
from broker_api.keys.views import KeyCreate, KeyView
from shared import audit
from shared.db.models import Tenant
from shared.tenancy import (
    create_api_key,
    create_tenant,
    find_api_key,
    record_tenant_created,
)


async def add_tenant(
    session: AsyncSession, actor: audit.Actor, body: TenantCreate
) -> IssuedKeyView:
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
        stored = find_api_key(sync, tenant, issued.prefix)
        api_key = KeyView.of(stored)
        record_tenant_created(sync, actor, tenant, first_key=stored)
        return IssuedKeyView(
            tenant=TenantView.of(tenant),
            key=issued.key,
            prefix=issued.prefix,
            api_key=api_key,
        )

    async with session.begin():
        return await session.run_sync(work)


async def add_key(
    session: AsyncSession, actor: audit.Actor, slug: str, body: KeyCreate
) -> IssuedKeyView:
    """Issue another key for the tenant `slug` on the body's terms (shown once)."""

    tenant_of = keys.tenant_named(slug)
    issued = await keys.issue_key(session, actor, tenant_of, body)
    async with session.begin():
        tenant = await session.run_sync(tenant_of)
        view = TenantView.of(tenant)
    return IssuedKeyView(
        tenant=view, key=issued.key, prefix=issued.prefix, api_key=issued.api_key
    )


async def list_tenants(session: AsyncSession) -> list[TenantView]:
    async with session.begin():
        tenants = await session.scalars(select(Tenant).order_by(Tenant.slug))
        return [TenantView.of(tenant) for tenant in tenants]
