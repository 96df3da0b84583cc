"""The authenticated tenant behind a request."""

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class Caller:
    """The authenticated tenant behind a request."""

    tenant_id: UUID
    slug: str
    default_model: str | None
    limits: dict[str, object] | None = None  # tenants.limits, as stored
