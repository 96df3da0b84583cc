"""The model catalog: the real /models snapshot plus the scripted `sim/*` models."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from importlib import resources
from typing import Any

from simulator.providers import Provider, provider_for
from simulator.scripts import LISTED_BEHAVIOURS, Behaviour, parse_behaviour

SIM_AUTHOR = "sim"
AUTO_ROUTER = "openrouter/auto"
BATCH_SUFFIX = ":batch"
BATCH_DISCOUNT = Decimal("0.5")
# Providers with a batch API behind OpenRouter's; `sim/ok` lets tests batch cheaply.
_BATCH_AUTHORS = frozenset({"openai", "anthropic", "google", "mistralai"})
_BATCH_SIM_MODELS = frozenset({"sim/ok"})
# Token prices the discount applies to; web search and per-request fees stay.
_DISCOUNTED_PRICES = frozenset(
    {"prompt", "completion", "input_cache_read", "input_cache_write"}
)
# Routing shortcuts that work on any slug and are not listed as models of their own.
_SHORTCUT_VARIANTS = frozenset({"nitro", "floor", "online"})
_SIM_CREATED = 1767225600  # 2026-01-01: a fixed date keeps the listing stable
_SIM_PRICING = {"prompt": "0.000001", "completion": "0.000002"}
_SIM_CONTEXT = 128_000
_SIM_MAX_OUTPUT = 4_096
_SUPPORTED_PARAMETERS = (
    *("max_tokens", "max_completion_tokens", "temperature", "top_p", "stop"),
    *("seed", "frequency_penalty", "presence_penalty", "response_format"),
    *("structured_outputs", "tools", "tool_choice", "parallel_tool_calls"),
)
_REASONING_PARAMETERS = ("reasoning", "include_reasoning")


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per prompt token, per completion token and per request."""

    prompt: Decimal
    completion: Decimal
    request: Decimal
    cache_read: Decimal | None = None  # None: the provider caches no prompts


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One model as served: its id, limits, prices, provider and listing JSON."""

    id: str
    name: str
    context_length: int
    max_completion_tokens: int | None
    prices: Prices
    provider: Provider
    listing: Mapping[str, Any]
    behaviour: Behaviour | None = None  # only `sim/*` models carry one
    supports_reasoning: bool = False

    @property
    def is_free(self) -> bool:
        """Say whether the platform's free-model limits apply."""
        return self.id.endswith(":free")

    @property
    def is_thinking_variant(self) -> bool:
        """Say whether this is a `:thinking` variant, which reasons unasked."""
        return self.id.endswith(":thinking")

    @property
    def canonical_slug(self) -> str:
        """Return the permanent slug, as `/models` lists it."""
        return canonical_slug(self.id)

    @property
    def is_batch_only(self) -> bool:
        """Say whether only the Batch API serves this variant."""
        return self.id.endswith(BATCH_SUFFIX)


def canonical_slug(model_id: str) -> str:
    """Return a model's permanent slug; `:free` and `:batch` share their base's."""
    return model_id.removesuffix(":free").removesuffix(BATCH_SUFFIX)


def _prices(pricing: Mapping[str, str]) -> Prices:
    """Parse the string prices; a missing key means zero."""
    return Prices(
        prompt=Decimal(pricing.get("prompt", "0")),
        completion=Decimal(pricing.get("completion", "0")),
        request=Decimal(pricing.get("request", "0")),
        cache_read=None
        if "input_cache_read" not in pricing
        else Decimal(pricing["input_cache_read"]),
    )


def _listing(raw: Mapping[str, Any], *, supports_reasoning: bool) -> dict[str, Any]:
    """Fill the snapshot's entry out to the fields clients of /models expect."""
    canonical = canonical_slug(raw["id"])
    parameters: tuple[str, ...] = _SUPPORTED_PARAMETERS
    if supports_reasoning:
        parameters += _REASONING_PARAMETERS
    return {
        "id": raw["id"],
        "canonical_slug": canonical,
        "hugging_face_id": None,
        "name": raw["name"],
        "created": raw["created"],
        "description": raw.get("description", ""),
        "context_length": raw["context_length"],
        "architecture": {
            "modality": "text->text",
            "input_modalities": ["text"],
            "output_modalities": ["text"],
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": raw["pricing"],
        "top_provider": raw["top_provider"],
        "per_request_limits": None,
        "supported_parameters": list(parameters),
        "default_parameters": {},
        "links": {"details": f"/api/v1/models/{canonical}/endpoints"},
    }


def model_from_listing(
    raw: Mapping[str, Any], *, supports_reasoning: bool = False
) -> ModelEntry:
    """Build a catalog entry from one /models JSON object."""
    listing = _listing(raw, supports_reasoning=supports_reasoning)
    top = raw.get("top_provider") or {}
    author = raw["id"].split("/", 1)[0]
    behaviour = None
    if author == SIM_AUTHOR:
        behaviour = parse_behaviour(raw["id"].split("/", 1)[1])
    return ModelEntry(
        id=raw["id"],
        name=raw["name"],
        context_length=raw.get("context_length") or _SIM_CONTEXT,
        max_completion_tokens=top.get("max_completion_tokens"),
        prices=_prices(raw["pricing"]),
        provider=provider_for(author),
        listing=listing,
        behaviour=behaviour,
        supports_reasoning=supports_reasoning,
    )


def sim_model(behaviour: Behaviour) -> ModelEntry:
    """Build the `sim/<behaviour>` model entry."""
    return model_from_listing(
        {
            "id": f"{SIM_AUTHOR}/{behaviour.name}",
            "name": f"Simulator: {behaviour.name}",
            "created": _SIM_CREATED,
            "description": f"Scripted behaviour {behaviour.name!r} (helixq simulator).",
            "context_length": _SIM_CONTEXT,
            "pricing": dict(_SIM_PRICING),
            "top_provider": {
                "context_length": _SIM_CONTEXT,
                "max_completion_tokens": _SIM_MAX_OUTPUT,
                "is_moderated": False,
            },
        }
    )


def _read_data(name: str) -> Any:
    """Parse one of the packaged JSON files (`simulator/data`)."""
    source = resources.files("simulator") / "data" / name
    return json.loads(source.read_text(encoding="utf-8"))


def has_batch_variant(entry: ModelEntry) -> bool:
    """Say whether a listed model has a `:batch` endpoint."""
    if ":" in entry.id:  # `:free`, `:thinking`: variants have none of their own
        return False
    return entry.id.split("/", 1)[0] in _BATCH_AUTHORS or entry.id in _BATCH_SIM_MODELS


def _discounted(price: str) -> str:
    """Halve a price string, keeping it a plain decimal."""
    return format((Decimal(price) * BATCH_DISCOUNT).normalize(), "f")


def batch_variant(entry: ModelEntry) -> ModelEntry:
    """The `:batch` listing of a model: same limits, discounted token prices."""
    listing = dict(entry.listing)
    pricing = {
        key: _discounted(value) if key in _DISCOUNTED_PRICES else value
        for key, value in entry.listing["pricing"].items()
    }
    model_id = entry.id + BATCH_SUFFIX
    listing.update(id=model_id, name=f"{entry.name} (batch)", pricing=pricing)
    return replace(
        entry,
        id=model_id,
        name=listing["name"],
        listing=listing,
        prices=_prices(pricing),
    )


class Catalog:
    """Every model the simulator answers for, by id."""

    def __init__(self, entries: list[ModelEntry]) -> None:
        self._entries = {entry.id: entry for entry in entries}
        # Built once: /models is hot in clients that validate ids before each call.
        self.listing_body = json.dumps(
            {"data": [entry.listing for entry in entries]}
        ).encode()

    @classmethod
    def load(cls) -> "Catalog":
        """Load the packaged snapshot and add the listed `sim/*` models."""
        snapshot = _read_data("openrouter-models.json")
        reasoning = frozenset(_read_data("reasoning-models.json")["models"])
        entries = [
            model_from_listing(raw, supports_reasoning=raw["id"] in reasoning)
            for raw in snapshot["data"]
        ]
        for name in LISTED_BEHAVIOURS:
            behaviour = parse_behaviour(name)
            if behaviour is not None:
                entries.append(sim_model(behaviour))
        entries += [
            batch_variant(entry) for entry in entries if has_batch_variant(entry)
        ]
        return cls(entries)

    def find(self, model_id: str) -> ModelEntry | None:
        """Resolve an id as OpenRouter would: listed, scripted or a routing variant."""
        entry = self._entries.get(model_id)
        if entry is not None:
            return entry
        author, _, slug = model_id.partition("/")
        if author == SIM_AUTHOR:
            behaviour = parse_behaviour(slug)
            return None if behaviour is None else sim_model(behaviour)
        base, _, variant = model_id.rpartition(":")
        if variant in _SHORTCUT_VARIANTS:
            return self._entries.get(base)
        return None
