"""Submit-time, admin-time and start-up checks: unknown strategies and models are a
422 (or, for the environment, a one-line SettingsError) with close matches, never a
silent default.

Models are checked against the catalog's listed ids. While the catalog is empty
(before the first sync) every model id is accepted: OpenRouter then has the last
word, and an unknown id fails the job as `upstream_model_not_found`.
"""

from collections.abc import Collection, Iterable, Mapping

from shared.errors import ModelNotAllowed, SettingsError
from shared.model_access import check_model_allowed
from shared.model_ids import upstream_model_id
from shared.routing.names import (
    close_matches,
    parse_fallback,
    parse_strategy,
    parse_substitution,
    unknown_name_error,
)
from shared.routing.pool import PoolEntry
from shared.routing.router import requested_models

# Routing shortcuts OpenRouter accepts on any listed slug without listing them.
SHORTCUT_VARIANTS = frozenset({"nitro", "floor", "online"})


def validate_route(
    request: Mapping[str, object],
    catalog_ids: Collection[str],
    *,
    kind: str = "model",
) -> None:
    """Check a submitted body (`JobCreate.model_dump()`): its `route` names and its
    `model`/`models` ids, against `catalog_ids` (the embedding models' for an
    embeddings body, `kind="embedding model"`); raises InvalidRequest (422) with
    suggestions."""
    route = request.get("route")
    if isinstance(route, Mapping):
        if route.get("strategy"):
            parse_strategy(str(route["strategy"]))
        if route.get("fallback"):
            parse_fallback(str(route["fallback"]))
        if route.get("model_substitution"):
            parse_substitution(str(route["model_substitution"]))
    check_known_models(requested_models(request), catalog_ids, field="model", kind=kind)


def check_allowed_models(
    request: Mapping[str, object], allowed: Collection[str] | None
) -> None:
    """ModelNotAllowed when the body names a model outside `allowed` (None: any);
    a body naming none is routed among the allowed models."""
    if allowed is None:
        return
    if not allowed:
        raise ModelNotAllowed(str(request.get("model") or "any model"), [])
    for model in requested_models(request):
        check_model_allowed(model, tuple(allowed))


def validate_pool(
    pool: Iterable[PoolEntry], default_model: str | None, catalog_ids: Collection[str]
) -> None:
    """Check a tenant's pool and default model against the catalog (admin API)."""
    check_known_models([entry.model for entry in pool], catalog_ids, field="model_pool")
    if default_model:
        check_known_models([default_model], catalog_ids, field="default_model")


def check_known_models(
    model_ids: Iterable[str],
    catalog_ids: Collection[str],
    *,
    field: str,
    kind: str = "model",
) -> None:
    """Raise InvalidRequest for the first id the catalog does not list."""
    if not catalog_ids:
        return
    for model_id in model_ids:
        if not is_known_model(model_id, catalog_ids):
            raise unknown_name_error(kind, field, model_id, catalog_ids)


def is_known_model(model_id: str, catalog_ids: Collection[str]) -> bool:
    """Listed, or a listed model with a routing shortcut suffix (`:nitro`)."""
    normalised = upstream_model_id(model_id)
    if normalised in catalog_ids:
        return True
    base, _, variant = normalised.rpartition(":")
    return variant in SHORTCUT_VARIANTS and base in catalog_ids


def check_configured_models(
    models: Mapping[str, str | None], catalog_ids: Collection[str]
) -> None:
    """Refuse models named in the environment (`{variable: model id}`, unset ones
    None) that the catalog does not list: one SettingsError line naming every such
    variable, with close matches. An empty catalog accepts every id."""
    if not catalog_ids:
        return
    problems = [
        _unlisted(variable, model_id, catalog_ids)
        for variable, model_id in models.items()
        if model_id and not is_known_model(model_id, catalog_ids)
    ]
    if problems:
        raise SettingsError("; ".join(problems))


def _unlisted(variable: str, model_id: str, catalog_ids: Collection[str]) -> str:
    suggestions = close_matches(upstream_model_id(model_id), catalog_ids)
    hint = (
        f" (did you mean {', '.join(map(repr, suggestions))}?)" if suggestions else ""
    )
    return f"invalid {variable}={model_id!r}: not in the model catalog{hint}"
