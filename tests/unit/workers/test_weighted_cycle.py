"""The weighted round robin between tenant queues."""

from collections import Counter

from workers.runtime.weighted_cycle import QueueWeights, WeightedCycle


def _serve(cycle: WeightedCycle, messages: int) -> list[str]:
    """Which queue each message comes from when every queue always has work
    (BRPOP takes from the first queue of the cycle's order)."""
    served = []
    for _ in range(messages):
        [first, *_rest] = cycle.consume(len(cycle.items or []))
        served.append(first)
        cycle.rotate(first)
    return served


def _weights(**by_queue: int) -> QueueWeights:
    weights = QueueWeights()
    weights.replace(by_queue)
    return weights


def test_without_weights_it_is_plain_round_robin():
    cycle = WeightedCycle(["a", "b", "c"], weights=QueueWeights())

    assert _serve(cycle, 6) == ["a", "b", "c", "a", "b", "c"]


def test_a_queue_keeps_the_front_for_as_many_messages_as_its_weight():
    cycle = WeightedCycle(["a", "b"], weights=_weights(a=3))

    assert _serve(cycle, 8) == ["a", "a", "a", "b", "a", "a", "a", "b"]


def test_shares_follow_the_weights_under_contention():
    cycle = WeightedCycle(["a", "b", "c"], weights=_weights(a=5, b=2))

    shares = Counter(_serve(cycle, 800))

    assert shares == {"a": 500, "b": 200, "c": 100}


def test_a_queue_that_ran_dry_does_not_lose_its_place():
    cycle = WeightedCycle(["a", "b"], weights=_weights(a=2))
    cycle.rotate("a")  # a took one message, then had none: b's message came next
    cycle.rotate("b")

    assert cycle.consume(2)[0] == "a"  # a's turn goes on


def test_new_weights_apply_to_the_next_turn():
    weights = QueueWeights()
    cycle = WeightedCycle(["a", "b"], weights=weights)
    weights.replace({"b": 2})

    assert _serve(cycle, 6) == ["a", "b", "b", "a", "b", "b"]
