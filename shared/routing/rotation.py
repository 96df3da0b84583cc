"""Smooth weighted round robin (nginx's algorithm) and the seam for its state.

Each step adds every weight to its model's current value, picks the largest (the
first on a tie) and subtracts the total from it. Weights 5, 1, 1 give
a a b a c a a: deterministic and interleaved, not bursts of a.
The state is shared by every worker (a Redis hash, see workers.routing.rotation_store),
so the interleaving holds across processes; tests use MemoryRotation.
"""

import hashlib
from collections.abc import Mapping, Sequence
from typing import Protocol

Weights = Sequence[tuple[str, int]]


class Rotation(Protocol):
    """Where round-robin positions live; `next` advances one step atomically."""

    def next(self, scope: str, weights: Weights) -> str: ...


def smooth_weighted_step(
    current: Mapping[str, int], weights: Weights
) -> tuple[str, dict[str, int]]:
    """One step: the chosen model and the new current values."""
    if not weights:
        raise ValueError("round robin over an empty pool")
    updated = {model: current.get(model, 0) + weight for model, weight in weights}
    chosen = max(updated, key=lambda model: updated[model])  # first max on a tie
    updated[chosen] -= sum(weight for _, weight in weights)
    return chosen, updated


def pool_signature(weights: Weights) -> str:
    """A short stable name for a pool; a changed pool starts a fresh rotation."""
    text = ",".join(f"{model}={weight}" for model, weight in weights)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class MemoryRotation:
    """Rotation state in this process: for tests and single-process tools."""

    def __init__(self) -> None:
        self._current: dict[tuple[str, str], dict[str, int]] = {}

    def next(self, scope: str, weights: Weights) -> str:
        key = (scope, pool_signature(weights))
        chosen, self._current[key] = smooth_weighted_step(
            self._current.get(key, {}), weights
        )
        return chosen
