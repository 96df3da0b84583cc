"""OpenRouter's model catalog as routing sees it: ids, limits and exact prices.

Prices are USD per token as Decimal, parsed from OpenRouter's decimal strings; a
missing price key means zero and `"-1"` means a variable price (`openrouter/auto`).
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from shared.endpoints import EMBEDDINGS_MODALITY
from shared.model_ids import upstream_model_id

VARIABLE_PRICE = Decimal(-1)

# The parameters that make a request need a model which supports them.
TOOLS_PARAMETERS = frozenset({"tools"})
STRUCTURED_PARAMETERS = frozenset({"response_format", "structured_outputs"})


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model: limits, per-token prices and what parameters it supports."""

    id: str
    name: str
    context_length: int | None
    max_completion_tokens: int | None
    prompt_price: Decimal
    completion_price: Decimal
    request_price: Decimal = Decimal(0)
    pricing: Mapping[str, str] = field(default_factory=dict)
    supported_parameters: tuple[str, ...] | None = None  # None: not published
    created: int | None = None
    # `architecture.output_modalities`: ("text",) for chat, ("embeddings",) for
    # embedding models; None when the listing says nothing.
    output_modalities: tuple[str, ...] | None = None

    @property
    def is_embedding(self) -> bool:
        """True for a model served at `/embeddings`, not `/chat/completions`."""
        return EMBEDDINGS_MODALITY in (self.output_modalities or ())

    @property
    def is_variable_price(self) -> bool:
        """True for routers such as `openrouter/auto` that bill the routed model."""
        return VARIABLE_PRICE in (self.prompt_price, self.completion_price)

    def supports_any(self, parameters: frozenset[str]) -> bool:
        """True when the model lists one of `parameters`, or publishes no list."""
        if self.supported_parameters is None:
            return True
        return not parameters.isdisjoint(self.supported_parameters)


def parse_price(raw: object) -> Decimal:
    """A price string as Decimal: exact, never through float; absent means zero."""
    if raw is None or raw == "":
        return Decimal(0)
    if isinstance(raw, float):
        raw = repr(raw)  # the shortest string that round-trips, not the binary value
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        raise ValueError(f"price {raw!r} is not a decimal number") from None


def parse_model(raw: Mapping[str, Any]) -> ModelInfo:
    """One `/api/v1/models` entry; raises ValueError when it has no usable id."""
    model_id = raw.get("id")
    if not isinstance(model_id, str) or not model_id:
        raise ValueError(f"model entry without an id: {dict(raw)!r:.200}")
    pricing = raw.get("pricing") or {}
    top = raw.get("top_provider") or {}
    parameters = raw.get("supported_parameters")
    architecture = raw.get("architecture") or {}
    modalities = architecture.get("output_modalities")
    return ModelInfo(
        id=upstream_model_id(model_id),
        name=str(raw.get("name") or model_id),
        context_length=_int_or_none(raw.get("context_length")),
        max_completion_tokens=_int_or_none(top.get("max_completion_tokens")),
        prompt_price=parse_price(pricing.get("prompt")),
        completion_price=parse_price(pricing.get("completion")),
        request_price=parse_price(pricing.get("request")),
        pricing={str(key): str(value) for key, value in pricing.items()},
        supported_parameters=None if parameters is None else tuple(parameters),
        created=_int_or_none(raw.get("created")),
        output_modalities=tuple(map(str, modalities))
        if isinstance(modalities, list)
        else None,
    )


def parse_models(payload: Mapping[str, Any] | Sequence[Any]) -> list[ModelInfo]:
    """Every model of a `/api/v1/models` body (`{"data": [...]}`) or a bare list."""
    entries = payload.get("data", []) if isinstance(payload, Mapping) else payload
    if not isinstance(entries, list | tuple):
        raise ValueError("a models listing needs a `data` list")
    return [parse_model(entry) for entry in entries]


def load_snapshot(path: Path) -> list[ModelInfo]:
    """The models of a saved `/api/v1/models` snapshot file (the simulator's copy)."""
    return parse_models(json.loads(path.read_text(encoding="utf-8")))


def by_id(models: Iterable[ModelInfo]) -> dict[str, ModelInfo]:
    """Index models by id; the last entry wins on a duplicate."""
    return {model.id: model for model in models}


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and value >= 0 else None
