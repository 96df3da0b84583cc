"""The inputs every strategy ranks with, and what a ranking returns."""

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shared.routing.catalog import ModelInfo
from shared.routing.features import RequestFeatures
from shared.routing.performance import ModelStats
from shared.routing.pool import PoolEntry
from shared.routing.rotation import Rotation


@dataclass(frozen=True, slots=True)
class RankContext:
    """Everything a strategy may look at; randomness and shared state injected."""

    features: RequestFeatures
    catalog: Mapping[str, ModelInfo]
    performance: Mapping[str, ModelStats]  # already decayed to now
    performance_enabled: bool
    rng: random.Random
    rotation: Rotation
    scope: str  # the tenant: round-robin positions are per tenant and pool
    requested: tuple[str, ...] = ()  # the request's `model` then `models`
    default_model: str | None = None


@dataclass(frozen=True, slots=True)
class Ranking:
    """Candidates best first, why, and a short note per candidate."""

    models: tuple[str, ...]
    reason: str
    notes: Mapping[str, str] = field(default_factory=dict)
    request_class: str | None = None
    excluded: tuple[str, ...] = ()  # cannot serve this request: not a fallback either


def models_of(entries: Sequence[PoolEntry]) -> list[str]:
    return [entry.model for entry in entries]


def first(chosen: str, models: Sequence[str]) -> tuple[str, ...]:
    """`models` with `chosen` moved to the front, the rest in their order."""
    return (chosen, *(model for model in models if model != chosen))


def describe_weights(entries: Sequence[PoolEntry]) -> str:
    return ", ".join(f"{entry.model}={entry.weight}" for entry in entries)
