"""Operator endpoints under /admin, guarded by HELIXQ_ADMIN_TOKEN."""

from fastapi import APIRouter, status

from broker_api.admin import service
from broker_api.admin.views import IssuedKeyView, TenantCreate, TenantView
from broker_api.deps import AdminActorDep, AdminDep, SessionDep

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep])


@router.post("/tenants", status_code=status.HTTP_201_CREATED)
async def create_tenant(
    body: TenantCreate, session: SessionDep, actor: AdminActorDep
) -> IssuedKeyView:
    """Create a tenant and its first API key (shown once)."""
    return await service.add_tenant(session, actor, body)


@router.get("/tenants")
async def list_tenants(session: SessionDep) -> list[TenantView]:
    return await service.list_tenants(session)
