"""Operator endpoints for a tenant's own OpenRouter key and the sealing key.

`PUT /admin/tenants/{slug}/openrouter-key` sets or rotates the key the tenant's
calls use, `DELETE` puts them back on OPENROUTER_API_KEY; workers pick a change
up within HELIXQ_TENANT_REFRESH_S, with no restart. No answer carries the key:
only its hint (`sk-or-v1-...1c96`) and label. `POST /admin/secrets/reseal` seals
every stored key again with the first key of HELIXQ_SECRET_KEY.
"""

from fastapi import APIRouter, Request

from broker_api.admin import openrouter_key_service as service
from broker_api.admin.views import OpenRouterKeySet, OpenRouterKeyView, ResealView
from broker_api.deps import AdminActorDep, AdminDep, SessionDep

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep])


@router.get("/tenants/{slug}/openrouter-key")
async def get_openrouter_key(slug: str, session: SessionDep) -> OpenRouterKeyView:
    """Which OpenRouter key the tenant's calls use (its hint, never the key)."""
    return await service.show_key(session, slug)


@router.put("/tenants/{slug}/openrouter-key")
async def put_openrouter_key(
    slug: str,
    body: OpenRouterKeySet,
    session: SessionDep,
    request: Request,
    actor: AdminActorDep,
) -> OpenRouterKeyView:
    """Set or rotate the tenant's OpenRouter key (sealed at rest)."""
    box = request.app.state.settings.box()
    return await service.set_key(
        session, actor, slug, body.key.get_secret_value(), box=box
    )


@router.delete("/tenants/{slug}/openrouter-key")
async def delete_openrouter_key(
    slug: str, session: SessionDep, actor: AdminActorDep
) -> OpenRouterKeyView:
    """Send the tenant's calls with OPENROUTER_API_KEY again."""
    return await service.clear_key(session, actor, slug)


@router.post("/secrets/reseal")
async def reseal_secrets(
    session: SessionDep, request: Request, actor: AdminActorDep
) -> ResealView:
    """Seal every stored OpenRouter key with the first key of HELIXQ_SECRET_KEY."""
    return await service.reseal(session, actor, box=request.app.state.settings.box())
