"""Model allow-lists (pure): which models a tenant, and one of its keys, may use.

A tenant's list (OPENROUTER_TENANT_<N>_ALLOWED_MODELS or the admin API) bounds
every key of it; a key's own list narrows it further. None means no list: any
model. A request naming a model outside the list is refused; routing chooses
only among allowed models.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.errors import ModelNotAllowed
from shared.model_ids import upstream_model_id

# The key in `jobs.route` (and `batches.route`) carrying the list a job was
# submitted under: the worker routes with it, whichever key submitted the job.
ROUTE_ALLOWED_MODELS = "allowed_models"


def normalized(models: Iterable[str]) -> list[str]:
    """Upstream ids, in order, each once (`openrouter/x/y` is `x/y`)."""
    seen: dict[str, None] = {}
    for model in models:
        if model.strip():
            seen.setdefault(upstream_model_id(model.strip()), None)
    return list(seen)


def parse_allowed_models(text: str) -> list[str]:
    """A comma-separated list as the environment gives it."""
    return normalized(text.split(","))


def effective_allowed(
    tenant_models: Sequence[str] | None, key_models: Sequence[str] | None
) -> tuple[str, ...] | None:
    """What a key of the tenant may use: both lists where both are set."""
    if tenant_models is None and key_models is None:
        return None
    if tenant_models is None or key_models is None:
        return tuple(normalized(tenant_models or key_models or []))
    key_set = set(normalized(key_models))
    return tuple(m for m in normalized(tenant_models) if m in key_set)


def is_allowed(model: str, allowed: Sequence[str] | None) -> bool:
    return allowed is None or upstream_model_id(model) in allowed


def check_model_allowed(model: str, allowed: Sequence[str] | None) -> None:
    """ModelNotAllowed (naming what is allowed) when `model` is outside the list."""
    if not is_allowed(model, allowed):
        raise ModelNotAllowed(model, list(allowed or ()))


def only_allowed(models: Sequence[str], allowed: Sequence[str] | None) -> list[str]:
    """`models` in their order, without those outside the list."""
    return [model for model in models if is_allowed(model, allowed)]


def with_allowed(
    route: dict[str, Any] | None, allowed: Sequence[str] | None
) -> dict[str, Any] | None:
    """The stored route of a job submitted under `allowed`."""
    if allowed is None:
        return route
    return {**(route or {}), ROUTE_ALLOWED_MODELS: list(allowed)}


def allowed_of(route: Mapping[str, object] | None) -> tuple[str, ...] | None:
    """The list a job was submitted under (None: any model)."""
    allowed = (route or {}).get(ROUTE_ALLOWED_MODELS)
    if not isinstance(allowed, list):
        return None
    return tuple(str(model) for model in allowed)
