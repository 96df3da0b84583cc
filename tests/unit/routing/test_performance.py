import pytest

from shared.routing.performance import (
    MIN_SAMPLES,
    AttemptSample,
    decay,
    record_sample,
    score,
    stats_from_hash,
)

OK = AttemptSample(succeeded=True, latency_ms=1000, completion_tokens=50)
FAIL = AttemptSample(succeeded=False, latency_ms=30_000)


def test_first_sample_sets_the_values():
    stats = record_sample(None, OK, 100.0)
    assert (stats.latency_ms, stats.success_rate, stats.tokens_per_s) == (
        1000,
        1.0,
        50.0,
    )
    assert stats.samples == 1


def test_failures_lower_success_but_leave_latency_alone():
    stats = record_sample(record_sample(None, OK, 0.0), FAIL, 0.0)
    assert stats.latency_ms == 1000
    assert stats.success_rate == pytest.approx(0.5)  # weight 1/(1+1) for the 2nd sample


def test_later_samples_move_the_average_by_alpha():
    stats = None
    for _ in range(20):
        stats = record_sample(stats, OK, 0.0)
    stats = record_sample(stats, AttemptSample(True, 2000), 0.0)
    assert stats.latency_ms == pytest.approx(1000 + 0.2 * 1000)


def test_decay_halves_samples_per_half_life_and_heals_success():
    stats = record_sample(None, FAIL, 0.0)
    later = decay(stats, 600.0, half_life_s=600.0)
    assert later.samples == pytest.approx(0.5)
    assert later.success_rate == pytest.approx(0.5)


def test_a_model_unused_long_enough_turns_cold():
    stats = None
    for _ in range(10):
        stats = record_sample(stats, OK, 0.0)
    assert not stats.is_cold
    assert decay(stats, 3 * 600.0).samples < MIN_SAMPLES


def test_score_prefers_fast_and_reliable():
    fast = record_sample(None, AttemptSample(True, 500), 0.0)
    slow = record_sample(None, AttemptSample(True, 2000), 0.0)
    assert score(fast) > score(slow)
    assert score(record_sample(None, FAIL, 0.0)) == 0


def test_hash_round_trip_treats_empty_as_missing():
    stats = stats_from_hash(
        {
            b"latency_ms": b"",
            b"success_rate": b"0.5",
            b"tokens_per_s": b"",
            b"samples": b"2",
            b"updated_at": b"7",
        }
    )
    assert stats is not None
    assert stats.latency_ms is None
    assert stats.samples == 2


def test_unreadable_hash_is_none():
    assert stats_from_hash({}) is None
    assert (
        stats_from_hash({"success_rate": "x", "samples": "1", "updated_at": "1"})
        is None
    )
