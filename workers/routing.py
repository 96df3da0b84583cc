"""Which models a job tries, in order (pure).

For now a job has one candidate; strategies and fallbacks (a later issue) extend the
list, and the completion loop already walks it.
"""

from collections.abc import Mapping

from shared.model_ids import upstream_model_id
from workers.openrouter.schemas import JsonObject


def candidate_models(
    request: Mapping[str, object], *, tenant_default: str | None, default_model: str
) -> list[str]:
    """Model ids to try in order, as OpenRouter expects them: the request's model,
    else the tenant's default, else the deployment's default."""
    requested = request.get("model")
    chosen = requested if isinstance(requested, str) and requested else None
    return [upstream_model_id(chosen or tenant_default or default_model)]


def upstream_body(request: Mapping[str, object], model: str) -> JsonObject:
    """The request as sent for one candidate: its model set, `models` fallbacks
    normalised the same way."""
    body = dict(request)
    body["model"] = model
    fallbacks = body.get("models")
    if isinstance(fallbacks, list):
        body["models"] = [
            upstream_model_id(item) if isinstance(item, str) else item
            for item in fallbacks
        ]
    return body
