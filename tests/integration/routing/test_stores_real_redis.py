"""The Redis stores on a real server, hit from several threads at once."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from shared.routing.performance import AttemptSample
from workers.routing.performance_store import PerformanceStore
from workers.routing.rotation_store import RedisRotation

THREADS = 8
STEPS = 400


def test_round_robin_is_exact_across_concurrent_workers(redis_client: redis.Redis):
    weights = [("a", 5), ("b", 2), ("c", 1)]

    def worker(_: int) -> list[str]:
        rotation = RedisRotation(redis_client)
        return [rotation.next("acme", weights) for _ in range(STEPS)]

    with ThreadPoolExecutor(THREADS) as pool:
        picks = [pick for batch in pool.map(worker, range(THREADS)) for pick in batch]
    total = THREADS * STEPS  # a multiple of the cycle (8): the counts are exact
    assert Counter(picks) == {"a": total * 5 // 8, "b": total * 2 // 8, "c": total // 8}


def test_no_attempt_is_lost_under_concurrent_updates(redis_client: redis.Redis):
    store = PerformanceStore(redis_client, clock=lambda: 1_000.0)

    def worker(_: int) -> None:
        for _ in range(50):
            store.record("m/x", AttemptSample(True, 250, 25))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))
    stats = store.snapshot(["m/x"])["m/x"]
    assert stats.samples == pytest.approx(THREADS * 50)
    assert stats.latency_ms == pytest.approx(250)
    assert stats.tokens_per_s == pytest.approx(100)
