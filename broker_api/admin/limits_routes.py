"""Operator endpoints for a tenant's quotas and own rate limits.

`PUT /admin/tenants/{slug}/limits` replaces them all (an omitted field means no
limit); workers pick a change up within HELIXQ_TENANT_REFRESH_S, the API at once
(every API process is told: broker_api.key_cache).
"""

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from broker_api.deps import AdminActorDep, AdminDep, SessionDep
from broker_api.key_cache import announce_change
from shared import audit
from shared.rate_limits import TenantLimits, tenant_limits
from shared.tenancy import find_tenant

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep])


@router.get("/tenants/{slug}/limits")
async def get_limits(slug: str, session: SessionDep) -> TenantLimits:
    """The tenant's quotas and own rate limits as stored."""
    async with session.begin():
        tenant = await session.run_sync(find_tenant, slug)
        return tenant_limits(tenant.limits)


@router.put("/tenants/{slug}/limits")
async def put_limits(
    slug: str,
    body: TenantLimits,
    session: SessionDep,
    request: Request,
    actor: AdminActorDep,
) -> TenantLimits:
    """Replace the tenant's quotas and own rate limits (checked by the schema)."""
    stored = body.model_dump(mode="json", exclude_none=True) or None

    def work(sync: Session) -> None:
        tenant = find_tenant(sync, slug)
        before = tenant.limits
        tenant.limits = stored
        audit.record(
            sync,
            actor,
            "tenant.limits.update",
            target=f"tenant:{slug}",
            tenant=slug,
            before={"limits": before},
            after={"limits": stored},
        )

    async with session.begin():
        await session.run_sync(work)
    await announce_change(request.app.state.redis, f"tenant {slug}")
    return body
