"""Admin request and response bodies."""

from datetime import datetime

from pydantic import BaseModel, Field

from broker_api.keys.views import KeyView
from shared.db.models import Tenant
from shared.strategies import FallbackStrategy, RouteStrategy


class TenantCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    default_model: str | None = Field(default=None, max_length=200)
    route_strategy: RouteStrategy | None = None
    fallback_strategy: FallbackStrategy | None = None


class TenantView(BaseModel):
    slug: str
    name: str
    default_model: str | None
    route_strategy: str | None
    fallback_strategy: str | None
    created_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> "TenantView":
        return cls(
            slug=tenant.slug,
            name=tenant.name,
            default_model=tenant.default_model,
            route_strategy=tenant.route_strategy,
            fallback_strategy=tenant.fallback_strategy,
            created_at=tenant.created_at,
        )


class IssuedKeyView(BaseModel):
    """A new key, shown once."""

    tenant: TenantView
    key: str
    prefix: str
    api_key: KeyView
