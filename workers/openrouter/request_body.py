"""The body sent to OpenRouter for one candidate model (pure).

Which candidates a job tries, and in what order, is routing's (shared.routing, run by
workers.routing.planner).
"""

from collections.abc import Mapping

from shared.model_ids import upstream_model_id
from workers.openrouter.schemas import JsonObject


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
