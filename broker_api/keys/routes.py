"""A tenant's own keys: `/v1/keys` (the `keys` scope). A key may create keys that
do no more than itself; every change is in the tenant's audit trail."""

from fastapi import APIRouter, Request, status

from broker_api.deps import CallerDep, KeyActorDep, SessionDep
from broker_api.keys import service
from broker_api.keys.views import IssuedKey, KeyCreate, KeyList, KeyRotate, KeyView

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.get("")
async def list_keys(session: SessionDep, caller: CallerDep) -> KeyList:
    """The tenant's keys: prefix, terms, created, last used, expiry; never a secret."""
    return await service.list_keys(session, service.tenant_named(caller.slug))


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_key(
    body: KeyCreate, session: SessionDep, caller: CallerDep, actor: KeyActorDep
) -> IssuedKey:
    """Issue a key for this tenant (shown once), no wider than the calling key."""
    return await service.issue_key(
        session, actor, service.tenant_named(caller.slug), body, caller=caller
    )


@router.post("/{prefix}/rotate", status_code=status.HTTP_201_CREATED)
async def rotate_key(
    prefix: str,
    body: KeyRotate,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    actor: KeyActorDep,
) -> IssuedKey:
    """A new key on the old one's terms; the old one works `overlap_s` more."""
    return await service.rotate_key(
        session,
        request.app.state.redis,
        actor,
        service.tenant_named(caller.slug),
        prefix,
        overlap_s=body.overlap_s,
    )


@router.delete("/{prefix}")
async def revoke_key(
    prefix: str,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    actor: KeyActorDep,
) -> KeyView:
    """Revoke one of the tenant's keys (the calling one too, if asked)."""
    return await service.revoke_key(
        session,
        request.app.state.redis,
        actor,
        service.tenant_named(caller.slug),
        prefix,
    )
