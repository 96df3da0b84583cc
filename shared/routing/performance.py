"""Measured performance per model: EWMAs decayed by time, and the routing score.

Every attempt updates its model's stats. Success rate and latency are
exponentially weighted moving averages; the weight of the past fades with a
half-life, so a model that failed an hour ago is not judged on it forever:
its sample count shrinks toward zero (it becomes "cold" and is explored again)
and its success rate drifts back to the optimistic prior of 1.
The Redis store applies the same arithmetic in one Lua script
(workers.routing.performance_store); tests check the two agree.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

HALF_LIFE_S = 600.0
EWMA_ALPHA = 0.2
SUCCESS_PRIOR = 1.0
# Below this many (decayed) samples a model's numbers are not trusted yet.
MIN_SAMPLES = 3.0


@dataclass(frozen=True, slots=True)
class ModelStats:
    latency_ms: float | None  # successful attempts only
    success_rate: float
    tokens_per_s: float | None
    samples: float  # decays with time
    updated_at_s: float  # unix seconds

    @property
    def is_cold(self) -> bool:
        return self.samples < MIN_SAMPLES

    def to_json(self) -> dict[str, float | None]:
        return {
            "latency_ms": self.latency_ms,
            "success_rate": self.success_rate,
            "tokens_per_s": self.tokens_per_s,
            "samples": self.samples,
            "updated_at": self.updated_at_s,
            "score": score(self),
        }


@dataclass(frozen=True, slots=True)
class AttemptSample:
    """One attempt's outcome, as the worker measured it."""

    succeeded: bool
    latency_ms: float
    completion_tokens: int | None = None

    @property
    def tokens_per_s(self) -> float | None:
        if not self.succeeded or not self.completion_tokens or self.latency_ms <= 0:
            return None
        return self.completion_tokens / (self.latency_ms / 1000)


def decay(
    stats: ModelStats, now_s: float, *, half_life_s: float = HALF_LIFE_S
) -> ModelStats:
    """The stats as of `now_s`: fewer effective samples, success nearer the prior."""
    factor = _decay_factor(now_s - stats.updated_at_s, half_life_s)
    return replace(
        stats,
        samples=stats.samples * factor,
        success_rate=SUCCESS_PRIOR + (stats.success_rate - SUCCESS_PRIOR) * factor,
        updated_at_s=max(now_s, stats.updated_at_s),
    )


def record_sample(
    stats: ModelStats | None,
    sample: AttemptSample,
    now_s: float,
    *,
    half_life_s: float = HALF_LIFE_S,
    alpha: float = EWMA_ALPHA,
) -> ModelStats:
    """Fold one attempt into the stats (the Lua script mirrors this)."""
    if stats is None:
        return ModelStats(
            latency_ms=sample.latency_ms if sample.succeeded else None,
            success_rate=1.0 if sample.succeeded else 0.0,
            tokens_per_s=sample.tokens_per_s,
            samples=1.0,
            updated_at_s=now_s,
        )
    stats = decay(stats, now_s, half_life_s=half_life_s)
    # Early on each sample counts more than alpha, so few samples converge fast.
    weight = max(alpha, 1 / (stats.samples + 1))
    latency = sample.latency_ms if sample.succeeded else None
    return ModelStats(
        latency_ms=_ewma(stats.latency_ms, latency, weight),
        success_rate=_ewma(stats.success_rate, float(sample.succeeded), weight) or 0.0,
        tokens_per_s=_ewma(stats.tokens_per_s, sample.tokens_per_s, weight),
        samples=stats.samples + 1,
        updated_at_s=now_s,
    )


def score(stats: ModelStats) -> float:
    """Successful completions per second of latency: higher is better."""
    latency_s = (stats.latency_ms or 0) / 1000
    return stats.success_rate / max(latency_s, 0.001)


def stats_from_hash(raw: Mapping[bytes | str, bytes | str]) -> ModelStats | None:
    """Parse the Redis hash of one model (None when it is empty or unreadable)."""
    fields = {_text(key): _text(value) for key, value in raw.items()}
    try:
        return ModelStats(
            latency_ms=_float_or_none(fields.get("latency_ms")),
            success_rate=float(fields["success_rate"]),
            tokens_per_s=_float_or_none(fields.get("tokens_per_s")),
            samples=float(fields["samples"]),
            updated_at_s=float(fields["updated_at"]),
        )
    except (KeyError, ValueError):
        return None


def _decay_factor(elapsed_s: float, half_life_s: float) -> float:
    return math.pow(0.5, max(elapsed_s, 0.0) / half_life_s)


def _ewma(old: float | None, new: float | None, weight: float) -> float | None:
    if new is None:
        return old
    if old is None:
        return new
    return old + weight * (new - old)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _float_or_none(value: str | None) -> float | None:
    # The Lua script stores an empty string for "no measurement yet".
    return float(value) if value else None
