"""Operator endpoints under /admin, guarded by HELIXQ_ADMIN_TOKEN."""

from fastapi import APIRouter, status

from broker_api.admin import service
from broker_api.admin.views import IssuedKeyView, KeyCreate, TenantCreate, TenantView
from broker_api.deps import AdminDep, SessionDep

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep])


@router.post("/tenants", status_code=status.HTTP_201_CREATED)
async def create_tenant(body: TenantCreate, session: SessionDep) -> IssuedKeyView:
    """Create a tenant and its first API key (shown once)."""
    return await service.add_tenant(session, body)


@router.get("/tenants")
async def list_tenants(session: SessionDep) -> list[TenantView]:
    return await service.list_tenants(session)


@router.post("/tenants/{slug}/keys", status_code=status.HTTP_201_CREATED)
async def create_key(slug: str, body: KeyCreate, session: SessionDep) -> IssuedKeyView:
    """Issue another API key for a tenant (shown once)."""
    return await service.add_key(session, slug, body.name, body.expires_at)
