from collections import Counter

import pytest

from shared.routing.rotation import MemoryRotation, pool_signature, smooth_weighted_step


def _sequence(weights, steps):
    rotation = MemoryRotation()
    return [rotation.next("t", weights) for _ in range(steps)]


def test_smooth_weighted_round_robin_interleaves_like_nginx():
    assert _sequence([("a", 5), ("b", 1), ("c", 1)], 7) == [
        "a",
        "a",
        "b",
        "a",
        "c",
        "a",
        "a",
    ]


def test_every_cycle_serves_exactly_the_weights():
    weights = [("a", 3), ("b", 2), ("c", 1)]
    counts = Counter(_sequence(weights, 6 * 50))
    assert counts == {"a": 150, "b": 100, "c": 50}


def test_equal_weights_are_plain_round_robin():
    assert _sequence([("a", 1), ("b", 1), ("c", 1)], 6) == [
        "a",
        "b",
        "c",
        "a",
        "b",
        "c",
    ]


def test_positions_are_per_scope_and_per_pool():
    rotation = MemoryRotation()
    pool = [("a", 1), ("b", 1)]
    assert rotation.next("one", pool) == "a"
    assert rotation.next("two", pool) == "a"
    assert rotation.next("one", [("a", 1), ("b", 2)]) == "b"  # another pool: fresh
    assert rotation.next("one", pool) == "b"


def test_signature_depends_on_models_weights_and_order():
    base = pool_signature([("a", 1), ("b", 1)])
    assert base == pool_signature([("a", 1), ("b", 1)])
    assert base != pool_signature([("a", 2), ("b", 1)])
    assert base != pool_signature([("b", 1), ("a", 1)])


def test_empty_pool_is_refused():
    with pytest.raises(ValueError, match="empty"):
        smooth_weighted_step({}, [])
