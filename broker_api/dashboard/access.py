"""Who may read the dashboard's data: the admin token (every tenant) or a tenant key."""

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from broker_api.deps import BearerDep, SettingsDep, get_caller, is_admin_token


@dataclass(frozen=True)
class Viewer:
    """The reader of the dashboard; `tenant_id` None means the admin (all tenants)."""

    tenant_id: UUID | None
    scope: str  # "all tenants" or the tenant's slug, shown on the page


async def get_viewer(
    request: Request,
    settings: SettingsDep,
    credentials: BearerDep,
) -> Viewer:
    """The admin token first; anything else must be a valid tenant key (else 401)."""
    if credentials is not None and is_admin_token(settings, credentials.credentials):
        return Viewer(tenant_id=None, scope="all tenants")
    caller = await get_caller(request, credentials)
    return Viewer(tenant_id=caller.tenant_id, scope=caller.slug)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
