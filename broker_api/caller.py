"""The authenticated tenant behind a request."""

from dataclasses import dataclass
from uuid import UUID

from shared.api_keys import ALL_SCOPES


@dataclass(frozen=True)
class Caller:
    """The authenticated tenant behind a request, and the key it came with."""

    tenant_id: UUID
    slug: str
    default_model: str | None
    limits: dict[str, object] | None = None  # tenants.limits, as stored
    key_prefix: str = ""
    scopes: frozenset[str] = ALL_SCOPES
    # The models the key may name: the tenant's list narrowed by the key's; None: any.
    allowed_models: tuple[str, ...] | None = None
    requests_per_minute: int | None = None  # the key's own limit, if any
