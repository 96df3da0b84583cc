"""The Redis stores on fakeredis: the Lua scripts agree with the pure functions."""

import fakeredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import redis_keys
from shared.routing.performance import AttemptSample, record_sample
from shared.routing.rotation import MemoryRotation
from workers.routing.performance_store import PerformanceStore
from workers.routing.rotation_store import RedisRotation


@pytest.fixture
def fake_redis():
    client = fakeredis.FakeRedis()
    yield client
    client.close()


class Clock:
    def __init__(self) -> None:
        self.now_s = 1_000.0

    def __call__(self) -> float:
        return self.now_s


def test_redis_rotation_follows_the_same_sequence_as_memory(fake_redis):
    weights = [("a", 5), ("b", 1), ("c", 3)]
    redis_rotation, memory = RedisRotation(fake_redis), MemoryRotation()
    assert [redis_rotation.next("t", weights) for _ in range(45)] == [
        memory.next("t", weights) for _ in range(45)
    ]


def test_two_workers_share_one_rotation(fake_redis):
    weights = [("a", 1), ("b", 1)]
    one, two = RedisRotation(fake_redis), RedisRotation(fake_redis)
    assert [one.next("t", weights), two.next("t", weights), one.next("t", weights)] == [
        "a",
        "b",
        "a",
    ]


def test_rotation_state_expires(fake_redis):
    RedisRotation(fake_redis, ttl_s=60).next("t", [("a", 1)])
    (key,) = fake_redis.keys("broker:rotation:t:*")
    assert 0 < fake_redis.ttl(key) <= 60


_samples = st.lists(
    st.tuples(
        st.booleans(),
        st.floats(1, 60_000),
        st.none() | st.integers(1, 4_000),
        st.floats(0, 5_000),  # seconds since the previous attempt
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(_samples)
def test_lua_update_matches_the_python_arithmetic(samples):
    client = fakeredis.FakeRedis()
    clock = Clock()
    store = PerformanceStore(client, clock=clock)
    expected = None
    for succeeded, latency_ms, tokens, gap_s in samples:
        clock.now_s += gap_s
        sample = AttemptSample(succeeded, latency_ms, tokens)
        store.record("m/x", sample)
        expected = record_sample(expected, sample, clock.now_s)
    got = store.snapshot(["m/x"])["m/x"]
    for name in (
        "latency_ms",
        "success_rate",
        "tokens_per_s",
        "samples",
        "updated_at_s",
    ):
        want, have = getattr(expected, name), getattr(got, name)
        assert have == (
            None if want is None else pytest.approx(want, rel=1e-9, abs=1e-9)
        ), name
    client.close()


def test_snapshot_is_decayed_to_now_and_skips_unknown_models(fake_redis):
    clock = Clock()
    store = PerformanceStore(fake_redis, clock=clock, half_life_s=100)
    store.record("m/x", AttemptSample(True, 500, 10))
    clock.now_s += 100
    snapshot = store.snapshot(["m/x", "m/never"])
    assert list(snapshot) == ["m/x"]
    assert snapshot["m/x"].samples == pytest.approx(0.5)


def test_records_are_indexed_and_expire(fake_redis):
    store = PerformanceStore(fake_redis, ttl_s=3_600)
    store.record("b/y", AttemptSample(False, 100))
    store.record("a/x", AttemptSample(True, 100))
    index = fake_redis.smembers(redis_keys.model_performance_index())
    assert sorted(m.decode() for m in index) == ["a/x", "b/y"]
    assert 0 < fake_redis.ttl(redis_keys.model_performance("a/x")) <= 3_600
