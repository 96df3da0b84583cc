"""performance_optimized: converges on the fastest model and comes back to one
that recovers, against simulated models on a simulated clock."""

import random
from collections import Counter

from shared.routing.performance import AttemptSample, decay, record_sample
from shared.routing.pool import PoolEntry
from shared.routing.router import RoutingDefaults, route
from shared.strategies import RouteStrategy
from tests.unit.routing.builders import make_inputs, stats

PERF = RouteStrategy.PERFORMANCE_OPTIMIZED
LATENCY_MS = {"f/fast": 300, "m/medium": 800, "s/slow": 1_500}
POOL = tuple(PoolEntry(name) for name in LATENCY_MS)
JOB_INTERVAL_S = 1.0
# After this many jobs the fastest model must carry most of the traffic.
CONVERGE_WITHIN = 100
MIN_SHARE = 0.8


class SimulatedFleet:
    """Models with fixed latencies; `broken` ones fail; stats kept like Redis."""

    def __init__(self, seed: int = 5) -> None:
        self.rng = random.Random(seed)
        self.now_s = 0.0
        self.raw: dict = {}
        self.broken: set[str] = set()

    def run(self, jobs: int) -> list[str]:
        picks = []
        for _ in range(jobs):
            self.now_s += JOB_INTERVAL_S
            performance = {m: decay(s, self.now_s) for m, s in self.raw.items()}
            inputs = make_inputs(
                pool=POOL, strategy=PERF, performance=performance, rng=self.rng
            )
            chosen = route(inputs).candidates[0]
            sample = AttemptSample(
                chosen not in self.broken,
                LATENCY_MS[chosen] * self.rng.uniform(0.9, 1.1),
                100,
            )
            self.raw[chosen] = record_sample(self.raw.get(chosen), sample, self.now_s)
            picks.append(chosen)
        return picks


def _share(picks, model):
    return Counter(picks)[model] / len(picks)


def test_converges_on_the_fastest_model():
    fleet = SimulatedFleet()
    fleet.run(CONVERGE_WITHIN)
    assert _share(fleet.run(200), "f/fast") >= MIN_SHARE


def test_moves_away_from_a_failing_model_and_back_when_it_recovers():
    fleet = SimulatedFleet()
    fleet.run(CONVERGE_WITHIN)
    fleet.broken = {"f/fast"}
    fleet.run(30)
    assert _share(fleet.run(200), "f/fast") < 0.15  # only exploration reaches it
    fleet.broken = set()
    fleet.run(300)  # exploration measures the recovery
    assert _share(fleet.run(200), "f/fast") >= MIN_SHARE


def test_cold_models_are_explored_first():
    performance = {"f/fast": stats(300), "m/medium": stats(800)}
    decision = route(make_inputs(pool=POOL, strategy=PERF, performance=performance))
    assert decision.candidates[0] == "s/slow"
    assert "exploring s/slow" in decision.reason


def test_warm_models_rank_by_score():
    performance = {m: stats(latency) for m, latency in LATENCY_MS.items()}
    performance["f/fast"] = stats(300, success=0.2)  # 0.67/s against medium's 1.25/s
    inputs = make_inputs(pool=POOL, strategy=PERF, performance=performance, seed=2)
    decision = route(inputs)
    assert decision.candidates == ("m/medium", "f/fast", "s/slow")
    assert decision.notes["m/medium"].startswith("score 1.25")


def test_disabled_cache_uses_configured_order_and_says_so():
    performance = {m: stats(latency) for m, latency in LATENCY_MS.items()}
    defaults = RoutingDefaults(performance_cache=False)
    pool = tuple(reversed(POOL))
    decision = route(
        make_inputs(
            pool=pool, strategy=PERF, performance=performance, defaults=defaults
        )
    )
    assert decision.candidates[0] == "s/slow"
    assert "OPENROUTER_PERFORMANCE_CACHE=false" in decision.reason
