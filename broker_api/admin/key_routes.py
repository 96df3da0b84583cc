"""Operator endpoints for a tenant's API keys: list, issue, rotate, revoke.

The same use cases as a tenant's own `/v1/keys` (broker_api.keys.service), for
any tenant and without the bounds of a calling key.
"""

from fastapi import APIRouter, Request, status

from broker_api.admin import service as admin
from broker_api.admin.views import IssuedKeyView
from broker_api.deps import AdminActorDep, AdminDep, SessionDep
from broker_api.keys import service
from broker_api.keys.views import IssuedKey, KeyCreate, KeyList, KeyRotate, KeyView

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep])


@router.get("/tenants/{slug}/keys")
async def list_keys(slug: str, session: SessionDep) -> KeyList:
    """The tenant's keys: prefix, terms, created, last used, expiry; never a secret."""
    return await service.list_keys(session, service.tenant_named(slug))


@router.post("/tenants/{slug}/keys", status_code=status.HTTP_201_CREATED)
async def create_key(
    slug: str, body: KeyCreate, session: SessionDep, actor: AdminActorDep
) -> IssuedKeyView:
    """Issue another API key for a tenant (shown once)."""
    return await admin.add_key(session, actor, slug, body)


@router.post("/tenants/{slug}/keys/{prefix}/rotate", status_code=201)
async def rotate_key(
    slug: str,
    prefix: str,
    body: KeyRotate,
    request: Request,
    session: SessionDep,
    actor: AdminActorDep,
) -> IssuedKey:
    """A new key on the old one's terms; the old one works `overlap_s` more."""
    return await service.rotate_key(
        session,
        request.app.state.redis,
        actor,
        service.tenant_named(slug),
        prefix,
        overlap_s=body.overlap_s,
    )


@router.delete("/tenants/{slug}/keys/{prefix}")
async def revoke_key(
    slug: str, prefix: str, request: Request, session: SessionDep, actor: AdminActorDep
) -> KeyView:
    """Revoke a tenant's key; API processes stop accepting it at once (or within
    HELIXQ_AUTH_CACHE_S when the notice is lost)."""
    return await service.revoke_key(
        session, request.app.state.redis, actor, service.tenant_named(slug), prefix
    )
