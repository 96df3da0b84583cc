"""Which lane a batch line runs on (pure).

The realtime lane calls OpenRouter's chat completions one line at a time at list
price. The discount lane sends lines through OpenRouter's Batch API at its batch
prices (about half), answered within 24 hours. A batch asks for `auto` (the default),
`discount` or `realtime`; `auto` picks the discount lane for a line only when the
batch can wait a day, the line's model has a batch endpoint and the line uses
nothing the Batch API refuses (docs/batches.md).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.endpoints import is_embeddings
from shared.model_ids import upstream_model_id

# OpenRouter's Batch API runs within 24 hours: a batch in a hurry runs realtime.
DISCOUNT_MIN_WINDOW_S = 24 * 3600
BATCH_VARIANT_SUFFIX = ":batch"
# Where OpenRouter's Batch API webhooks reach helixq's API, under HELIXQ_PUBLIC_URL.
CALLBACK_PATH = "/v1/discount/callbacks"
_REFUSED_PARTS = {
    "input_audio": "audio content parts",
    "audio_url": "audio content parts",
    "video_url": "video content parts",
    "file": "file content parts",
    "input_file": "file content parts",
}
_REFUSED_FIELDS = {
    "modalities": "modalities",
    "audio": "audio output",
    "image_config": "image_config",
    "web_search_options": "web search",
}


class Lane(StrEnum):
    AUTO = "auto"  # asked for only: a stored line is on one of the two below
    DISCOUNT = "discount"
    REALTIME = "realtime"


def batch_variant(model_id: str) -> str:
    """The catalog id of a model's Batch API endpoint: `openai/gpt-4o` →
    `openai/gpt-4o:batch`."""
    return upstream_model_id(model_id) + BATCH_VARIANT_SUFFIX


def _part_refusal(part: object) -> str | None:
    if not isinstance(part, dict):
        return None
    kind = part.get("type")
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if isinstance(url, str) and url.strip().lower().startswith("data:"):
            return "data-URI images (only public http(s) image URLs are accepted)"
        return None
    return _REFUSED_PARTS.get(str(kind))


def _message_refusals(messages: object) -> Iterable[str]:
    if not isinstance(messages, list):
        return
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            for part in content:
                reason = _part_refusal(part)
                if reason is not None:
                    yield reason


def _plugin_refusals(body: dict[str, Any]) -> Iterable[str]:
    plugins = body.get("plugins")
    if isinstance(plugins, list) and any(
        isinstance(p, dict) and p.get("id") == "web" for p in plugins
    ):
        yield "web search"
    model = body.get("model")
    if isinstance(model, str) and model.endswith(":online"):
        yield "web search (:online models)"


def discount_refusals(body: dict[str, Any]) -> list[str]:
    """What in a chat-completion body the Batch API refuses; empty when nothing."""
    reasons: list[str] = []
    if body.get("stream"):
        reasons.append("streaming")
    reasons.extend(_message_refusals(body.get("messages")))
    reasons.extend(label for key, label in _REFUSED_FIELDS.items() if key in body)
    reasons.extend(_plugin_refusals(body))
    return list(dict.fromkeys(reasons))  # each reason once, in order


def line_model(body: dict[str, Any], default_model: str | None) -> str | None:
    """The model a line names (or its first candidate), else the tenant's default."""
    model = body.get("model")
    if isinstance(model, str) and model:
        return model
    models = body.get("models")
    if isinstance(models, list) and models and isinstance(models[0], str):
        return models[0]
    return default_model


@dataclass(frozen=True)
class LanePolicy:
    """What decides a batch's lines' lanes: the lane asked for, the batch's window,
    the catalog's ids (with their `:batch` variants) and the tenant's default model."""

    requested: Lane
    window_s: int
    catalog_ids: frozenset[str]
    default_model: str | None = None

    def discount_obstacles(self, body: dict[str, Any]) -> list[str]:
        """Why a line cannot run on the discount lane; empty when it can."""
        if is_embeddings(body):  # not sent to the Batch API (docs/batches.md)
            return ["embeddings run on the realtime lane only"]
        obstacles: list[str] = []
        if self.window_s < DISCOUNT_MIN_WINDOW_S:
            obstacles.append("the batch's completion_window is shorter than 24h")
        model = line_model(body, self.default_model)
        if model is None:
            obstacles.append("the line names no model and the tenant has no default")
        elif batch_variant(model) not in self.catalog_ids:
            obstacles.append(f"model {model} has no batch endpoint in the catalog")
        obstacles.extend(
            f"the Batch API does not accept {reason}"
            for reason in discount_refusals(body)
        )
        return obstacles

    def lane_of(self, body: dict[str, Any]) -> tuple[Lane, list[str]]:
        """The line's lane and, when `discount` was asked for and cannot be had,
        the reasons (the line is then refused)."""
        if self.requested is Lane.REALTIME:
            return Lane.REALTIME, []
        obstacles = self.discount_obstacles(body)
        if not obstacles:
            return Lane.DISCOUNT, []
        if self.requested is Lane.DISCOUNT:
            return Lane.DISCOUNT, obstacles
        return Lane.REALTIME, []
