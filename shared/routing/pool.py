"""A tenant's routing configuration: default model, strategies and model pool.

`tenants.model_pool` holds `[{"model": id, "weight": int, "tier": class | null}]`.
Weights drive round_robin and weighted; tiers name a multi_model request class.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.errors import InvalidRequest
from shared.model_ids import upstream_model_id
from shared.routing.classifier import RequestClass
from shared.routing.names import (
    parse_fallback,
    parse_strategy,
    parse_substitution,
    unknown_name_error,
)
from shared.strategies import FallbackStrategy, ModelSubstitution, RouteStrategy

MAX_POOL_SIZE = 50
MAX_WEIGHT = 1000


@dataclass(frozen=True, slots=True)
class PoolEntry:
    model: str
    weight: int = 1
    tier: RequestClass | None = None  # None: serves every class

    def to_json(self) -> dict[str, Any]:
        tier = self.tier.value if self.tier else None
        return {"model": self.model, "weight": self.weight, "tier": tier}


@dataclass(frozen=True, slots=True)
class TenantRouting:
    """What routing needs from a tenant row; `scope` keys its shared state."""

    scope: str
    default_model: str | None = None
    route_strategy: RouteStrategy | None = None
    fallback_strategy: FallbackStrategy | None = None
    pool: tuple[PoolEntry, ...] = field(default_factory=tuple)
    model_substitution: ModelSubstitution | None = None


class TenantRow(Protocol):
    """The columns of `shared.db.models.Tenant` that routing reads."""

    @property
    def slug(self) -> str: ...
    @property
    def default_model(self) -> str | None: ...
    @property
    def route_strategy(self) -> str | None: ...
    @property
    def fallback_strategy(self) -> str | None: ...
    @property
    def model_pool(self) -> list[dict[str, Any]] | None: ...
    @property
    def model_substitution(self) -> str | None: ...


def tenant_routing_of(tenant: TenantRow) -> TenantRouting:
    """A tenant row as routing input; raises InvalidRequest on a corrupt config."""
    return TenantRouting(
        scope=tenant.slug,
        default_model=upstream_model_id(tenant.default_model)
        if tenant.default_model
        else None,
        route_strategy=parse_strategy(tenant.route_strategy, field="route_strategy")
        if tenant.route_strategy
        else None,
        fallback_strategy=parse_fallback(
            tenant.fallback_strategy, field="fallback_strategy"
        )
        if tenant.fallback_strategy
        else None,
        pool=parse_pool(tenant.model_pool or []),
        model_substitution=parse_substitution(
            tenant.model_substitution, field="model_substitution"
        )
        if tenant.model_substitution
        else None,
    )


def parse_pool(raw: Sequence[Mapping[str, Any]]) -> tuple[PoolEntry, ...]:
    """Validate a model pool; raises InvalidRequest naming the bad entry."""
    if len(raw) > MAX_POOL_SIZE:
        raise InvalidRequest(
            f"a model pool holds at most {MAX_POOL_SIZE} models",
            details={"field": "model_pool"},
        )
    entries = tuple(_parse_entry(index, item) for index, item in enumerate(raw))
    models = [entry.model for entry in entries]
    duplicates = sorted({model for model in models if models.count(model) > 1})
    if duplicates:
        raise InvalidRequest(
            f"model pool lists {', '.join(duplicates)} more than once",
            details={"field": "model_pool", "duplicates": duplicates},
        )
    return entries


def _parse_entry(index: int, item: Mapping[str, Any]) -> PoolEntry:
    where = f"model_pool[{index}]"
    model = item.get("model") if isinstance(item, Mapping) else None
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest(
            f"{where}.model must be a model id", details={"field": where}
        )
    weight = item.get("weight", 1)
    if weight is None:
        weight = 1
    if (
        not isinstance(weight, int)
        or isinstance(weight, bool)
        or not 1 <= weight <= MAX_WEIGHT
    ):
        raise InvalidRequest(
            f"{where}.weight must be a whole number from 1 to {MAX_WEIGHT}",
            details={"field": f"{where}.weight", "value": weight},
        )
    return PoolEntry(
        upstream_model_id(model.strip()), weight, _parse_tier(where, item.get("tier"))
    )


def _parse_tier(where: str, tier: object) -> RequestClass | None:
    if tier is None:
        return None
    try:
        return RequestClass(str(tier))
    except ValueError:
        raise unknown_name_error(
            "tier", f"{where}.tier", str(tier), [c.value for c in RequestClass]
        ) from None
