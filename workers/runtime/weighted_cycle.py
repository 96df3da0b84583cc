"""Weighted round robin between tenant queues, for kombu's Redis transport.

Kombu's Redis channel BRPOPs its queues in the order its cycle gives and, after
each message, moves that queue to the back: plain round robin. This cycle keeps a
queue in front for `weight` messages in a row before it goes to the back, so
tenants with work get shares in proportion to their weights (3 and 1: A A A B),
and a tenant that just submitted waits at most for the others' weights in
messages. Kombu builds the cycle itself, from the dotted name in the transport
option `queue_order_strategy` and with no arguments: the weights live in
`queue_weights`, which the tenant-queues bootstep keeps current.
"""

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from kombu.utils.scheduling import round_robin_cycle

if TYPE_CHECKING:
    _Cycle = round_robin_cycle[str]
else:  # generic in kombu's stubs only: subscripting it at run time fails
    _Cycle = round_robin_cycle

DEFAULT_WEIGHT = 1


class QueueWeights:
    """Queue name → weight; queues not named weigh DEFAULT_WEIGHT."""

    def __init__(self) -> None:
        self._weights: Mapping[str, int] = {}

    def replace(self, weights: Mapping[str, int]) -> None:
        # One assignment: the consumer thread reading it sees the old or new map.
        self._weights = dict(weights)

    def of(self, queue: str) -> int:
        return self._weights.get(queue, DEFAULT_WEIGHT)


queue_weights = QueueWeights()


class WeightedCycle(_Cycle):
    """kombu's round robin, where a queue's turn lasts `weight` messages."""

    def __init__(
        self, it: Iterable[str] | None = None, weights: QueueWeights = queue_weights
    ) -> None:
        super().__init__(list(it) if it is not None else [])
        self._weights = weights
        # Messages the queue has had in its current turn (only while it lasts).
        self._taken: dict[str, int] = {}

    def rotate(self, last_used: str) -> None:
        """Count a message of `last_used`; send it to the back once its turn ends."""
        taken = self._taken.get(last_used, 0) + 1
        if taken < self._weights.of(last_used):
            self._taken[last_used] = taken
        else:
            self._taken.pop(last_used, None)
            super().rotate(last_used)
