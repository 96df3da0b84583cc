"""Operator endpoints for a tenant's routing: default model, strategies, model pool.

`PUT /admin/tenants/{slug}/routing` replaces the whole configuration (an omitted
or null field clears it, so the deployment's default applies); names and models
are checked like a submission: unknown ones are a 422 with close matches.
"""

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from broker_api.deps import AdminActorDep, AdminDep, SessionDep
from broker_api.key_cache import announce_change
from broker_api.models.queries import listed_model_ids
from shared import audit
from shared.db.models import Tenant
from shared.model_ids import upstream_model_id
from shared.routing.names import parse_fallback, parse_strategy, parse_substitution
from shared.routing.pool import MAX_POOL_SIZE, parse_pool
from shared.routing.validation import validate_pool
from shared.tenancy import find_tenant

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep])


class RoutingConfig(BaseModel):
    default_model: str | None = Field(default=None, max_length=200)
    route_strategy: str | None = Field(default=None, max_length=40)
    fallback_strategy: str | None = Field(default=None, max_length=40)
    # none | on_failure | any; null: the deployment's HELIXQ_MODEL_SUBSTITUTION
    model_substitution: str | None = Field(default=None, max_length=40)
    # [{"model": id, "weight": 1..1000, "tier": request class | null}]
    model_pool: list[dict[str, Any]] = Field(
        default_factory=list, max_length=MAX_POOL_SIZE
    )

    @classmethod
    def of(cls, tenant: Tenant) -> "RoutingConfig":
        return cls(
            default_model=tenant.default_model,
            route_strategy=tenant.route_strategy,
            fallback_strategy=tenant.fallback_strategy,
            model_substitution=tenant.model_substitution,
            model_pool=tenant.model_pool or [],
        )


@router.get("/tenants/{slug}/routing")
async def get_routing(slug: str, session: SessionDep) -> RoutingConfig:
    """The tenant's routing configuration as stored."""
    async with session.begin():
        tenant = await session.run_sync(find_tenant, slug)
        return RoutingConfig.of(tenant)


@router.put("/tenants/{slug}/routing")
async def put_routing(
    slug: str,
    body: RoutingConfig,
    session: SessionDep,
    request: Request,
    actor: AdminActorDep,
) -> RoutingConfig:
    """Replace the tenant's routing configuration after checking every name."""
    stored = await set_routing(session, actor, slug, body)
    # Requests read the tenant's default model from the authenticated key.
    await announce_change(request.app.state.redis, f"tenant {slug}")
    return stored


async def set_routing(
    session: AsyncSession, actor: audit.Actor, slug: str, body: RoutingConfig
) -> RoutingConfig:
    """Validate `body` (strategies, pool shape, models in the catalog) and store it."""
    pool = parse_pool(body.model_pool)
    default_model = (
        upstream_model_id(body.default_model) if body.default_model else None
    )
    strategy = (
        parse_strategy(body.route_strategy, field="route_strategy")
        if body.route_strategy
        else None
    )
    fallback = (
        parse_fallback(body.fallback_strategy, field="fallback_strategy")
        if body.fallback_strategy
        else None
    )
    substitution = (
        parse_substitution(body.model_substitution, field="model_substitution")
        if body.model_substitution
        else None
    )

    def work(sync: Session) -> RoutingConfig:
        tenant = find_tenant(sync, slug)
        before = RoutingConfig.of(tenant).model_dump(mode="json")
        tenant.default_model = default_model
        tenant.route_strategy = strategy.value if strategy else None
        tenant.fallback_strategy = fallback.value if fallback else None
        tenant.model_substitution = substitution.value if substitution else None
        tenant.model_pool = [entry.to_json() for entry in pool] or None
        sync.flush()
        after = RoutingConfig.of(tenant)
        audit.record(
            sync,
            actor,
            "tenant.routing.update",
            target=f"tenant:{slug}",
            tenant=slug,
            before=before,
            after=after.model_dump(mode="json"),
        )
        return after

    async with session.begin():
        validate_pool(pool, default_model, await listed_model_ids(session))
        return await session.run_sync(work)
