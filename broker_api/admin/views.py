"""Admin request and response bodies."""

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field, SecretStr

from broker_api.keys.views import KeyView
from shared.db.models import Tenant
from shared.openrouter_key_store import shown_key
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


class OpenRouterKeySet(BaseModel):
    """A tenant's own OpenRouter key, as the operator sends it."""

    key: SecretStr = Field(max_length=300, description="sk-or-v1-...")


class OpenRouterKeyShown(BaseModel):
    """What is ever shown of a tenant's OpenRouter key."""

    hint: str = Field(description="its prefix and last four characters")
    label: str = Field(description="a fingerprint; tenants with one key share it")
    set_at: datetime
    provisioned: bool = Field(description="made by helixq, its limit the budget")
    limit_usd: Decimal | None = Field(description="OpenRouter's credit limit on it")


class OpenRouterKeyView(BaseModel):
    tenant: str
    # None: the tenant's calls go out on OPENROUTER_API_KEY.
    openrouter_key: OpenRouterKeyShown | None

    @classmethod
    def of(cls, tenant: Tenant) -> "OpenRouterKeyView":
        shown = shown_key(tenant)
        return cls(
            tenant=tenant.slug,
            openrouter_key=None
            if shown is None
            else OpenRouterKeyShown(
                hint=shown.hint,
                label=shown.label,
                set_at=shown.set_at,
                provisioned=shown.provisioned,
                limit_usd=shown.limit_usd,
            ),
        )


class ResealView(BaseModel):
    resealed: int
    # Tenants whose key no key of HELIXQ_SECRET_KEY opens (left as they were).
    unreadable: list[str]
