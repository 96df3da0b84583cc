"""Operator endpoints for a tenant's model allow-list.

`PUT /admin/tenants/{slug}/allowed-models` replaces it (`null`: every model);
each model must be in the catalog. Requests naming another model are refused
(`model_not_allowed`) and routing chooses only among these; a key's own list
narrows this one.
"""

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from broker_api.deps import AdminActorDep, AdminDep, SessionDep
from broker_api.key_cache import announce_change
from broker_api.keys.views import MAX_ALLOWED_MODELS
from broker_api.models.queries import listed_model_ids
from shared import audit
from shared.model_access import normalized
from shared.routing.validation import check_known_models
from shared.tenancy import find_tenant

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep])


class AllowedModels(BaseModel):
    models: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ALLOWED_MODELS,
        description="model ids; null: every model",
    )


@router.get("/tenants/{slug}/allowed-models")
async def get_allowed_models(slug: str, session: SessionDep) -> AllowedModels:
    """The tenant's allow-list as stored (null: every model)."""
    async with session.begin():
        tenant = await session.run_sync(find_tenant, slug)
        return AllowedModels(models=tenant.allowed_models)


@router.put("/tenants/{slug}/allowed-models")
async def put_allowed_models(
    slug: str,
    body: AllowedModels,
    session: SessionDep,
    request: Request,
    actor: AdminActorDep,
) -> AllowedModels:
    """Replace the tenant's allow-list after checking each model is listed."""
    models = normalized(body.models) if body.models is not None else None

    def work(sync: Session) -> None:
        tenant = find_tenant(sync, slug)
        before = tenant.allowed_models
        tenant.allowed_models = models
        audit.record(
            sync,
            actor,
            "tenant.allowed_models.update",
            target=f"tenant:{slug}",
            tenant=slug,
            before={"allowed_models": before},
            after={"allowed_models": models},
        )

    async with session.begin():
        if models is not None:
            catalog = await listed_model_ids(session)
            check_known_models(models, catalog, field="models")
        await session.run_sync(work)
    # Every API process reads the list with the key it authenticates.
    await announce_change(request.app.state.redis, f"tenant {slug}")
    return AllowedModels(models=models)
