"""BatchStore: every batch by id, in creation order, and what tests read about them."""

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from simulator.batches.batch import Batch, BatchStatus
from simulator.batches.callbacks import Delivery
from simulator.batches.faults import FaultBook


def _deadlines(batch: Batch) -> Iterator[float]:
    """The times at which a live batch changes next."""
    timeline = batch.timeline
    if batch.status is BatchStatus.VALIDATING:
        yield timeline.validated_at
    else:
        yield timeline.done_at
    yield timeline.expires_at
    if timeline.cancel_at is not None:
        yield timeline.cancel_at


class BatchStore:
    """Batches, submission counts per custom_id, billed USD and callback deliveries."""

    def __init__(self) -> None:
        self._batches: dict[str, Batch] = {}
        # Every id ever created keeps its place, so `after=` survives a delete.
        self._positions: dict[str, int] = {}
        self._live: dict[str, Batch] = {}
        self._ended: list[Batch] = []  # ended with a callback_url not yet posted
        self.faults = FaultBook()
        self.submissions: Counter[str] = Counter()
        self.billed_usd = Decimal(0)
        self.deliveries: list[Delivery] = []

    def add(self, batch: Batch) -> None:
        """Keep a new batch and count its lines as submitted."""
        self._positions[batch.id] = len(self._positions)
        self._batches[batch.id] = batch
        self._live[batch.id] = batch
        self.submissions.update(line.custom_id for line in batch.lines)

    def get(self, batch_id: str) -> Batch | None:
        """Find a batch that has not been deleted."""
        return self._batches.get(batch_id)

    def remove(self, batch_id: str) -> None:
        """Delete a batch; its place in the listing order is kept."""
        self._batches.pop(batch_id, None)
        self._live.pop(batch_id, None)

    def position(self, batch_id: str) -> int | None:
        """Return a batch's creation rank, deleted or not."""
        return self._positions.get(batch_id)

    def newest_first(self) -> Iterator[tuple[int, Batch]]:
        """Yield (rank, batch), newest first."""
        for batch in reversed(self._batches.values()):
            yield self._positions[batch.id], batch

    def live(self) -> list[Batch]:
        """Return the batches that have not ended."""
        return list(self._live.values())

    def note_ended(self, batch: Batch) -> None:
        """Take an ended batch off the live list; queue its callback."""
        self._live.pop(batch.id, None)
        if batch.callback_url is not None:
            self._ended.append(batch)

    def take_ended(self) -> list[Batch]:
        """Hand over the ended batches whose callbacks are due."""
        ended, self._ended = self._ended, []
        return ended

    def next_deadline(self) -> float | None:
        """Return the earliest time at which a live batch changes."""
        return min(
            (at for batch in self._live.values() for at in _deadlines(batch)),
            default=None,
        )

    def submission_summary(self, *, with_counts: bool) -> dict[str, Any]:
        """Lines submitted, custom_ids submitted more than once, USD billed."""
        summary: dict[str, Any] = {
            "batches": len(self._positions),
            "lines": self.submissions.total(),
            "duplicates": {
                custom_id: count
                for custom_id, count in self.submissions.items()
                if count > 1
            },
            "billed_usd": str(self.billed_usd),
        }
        if with_counts:
            summary["by_custom_id"] = dict(self.submissions)
        return summary
