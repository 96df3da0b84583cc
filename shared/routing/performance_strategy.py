"""performance_optimized: the best measured score, with exploration.

Score = success rate / latency in seconds (tokens per second breaks ties).
A first pick explores in two ways, so no model is written off for good:
a cold model (fewer than 3 recent samples: new, or unused long enough for its
samples to decay) is tried first; and one pick in ten goes to a random non-best
model, which is how a model that recovered gets measured again.
Fallbacks use the measured order with cold models last.
"""

from collections.abc import Sequence

from shared.routing.performance import MIN_SAMPLES, ModelStats, score
from shared.routing.pool import PoolEntry
from shared.routing.ranking import RankContext, Ranking, first, models_of

EXPLORATION_RATE = 0.1
DISABLED_REASON = (
    "performance cache disabled (OPENROUTER_PERFORMANCE_CACHE=false): configured order"
)


def rank_performance_optimized(
    entries: Sequence[PoolEntry], ctx: RankContext, *, primary: bool
) -> Ranking:
    """Best score first, cold models explored first on a first pick."""
    models = models_of(entries)
    if not ctx.performance_enabled:
        return Ranking(tuple(models), DISABLED_REASON)
    cold = [model for model in models if _is_cold(ctx.performance.get(model))]
    warm = sorted(
        (model for model in models if model not in cold),
        key=lambda model: _sort_key(ctx.performance[model]),
    )
    notes = {model: _note(ctx.performance.get(model)) for model in models}
    if not primary:
        return Ranking(
            (*warm, *cold), "best measured score first, unmeasured last", notes
        )
    if cold:
        ctx.rng.shuffle(cold)
        reason = f"exploring {cold[0]}: fewer than {MIN_SAMPLES:g} recent samples"
        return Ranking((*cold, *warm), reason, notes)
    if len(warm) > 1 and ctx.rng.random() < EXPLORATION_RATE:
        explored = ctx.rng.choice(warm[1:])
        reason = f"exploring {explored} (1 pick in {1 / EXPLORATION_RATE:g})"
        return Ranking(first(explored, warm), reason, notes)
    return Ranking(tuple(warm), "best score: success rate / latency", notes)


def _is_cold(stats: ModelStats | None) -> bool:
    return stats is None or stats.is_cold


def _sort_key(stats: ModelStats) -> tuple[float, float]:
    return (-score(stats), -(stats.tokens_per_s or 0.0))


def _note(stats: ModelStats | None) -> str:
    if stats is None:
        return "no measurement"
    latency = (
        f"{stats.latency_ms:.0f} ms" if stats.latency_ms is not None else "no latency"
    )
    return (
        f"score {score(stats):.3g}: success {stats.success_rate:.2f}, {latency}, "
        f"{stats.samples:.1f} samples"
    )
