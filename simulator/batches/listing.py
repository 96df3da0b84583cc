"""GET /batches: `limit`, `after`, repeated `status`, `created_after`/`_before`."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from simulator.batches.batch import Batch, BatchStatus
from simulator.batches.query_params import int_param
from simulator.batches.store import BatchStore
from simulator.errors import SimError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_STATUSES = tuple(status.value for status in BatchStatus)


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A parsed listing query; times are unix seconds, bounds exclusive."""

    limit: int = DEFAULT_LIMIT
    before_position: int | None = None  # `after=<id>`: only batches older than it
    statuses: frozenset[BatchStatus] = frozenset()
    created_after: float | None = None
    created_before: float | None = None

    def admits(self, batch: Batch) -> bool:
        """Say whether a batch passes the filters."""
        created = int(batch.created_at)
        if self.statuses and batch.status not in self.statuses:
            return False
        if self.created_after is not None and not created > self.created_after:
            return False
        return self.created_before is None or created < self.created_before


def _statuses(values: Sequence[str]) -> frozenset[BatchStatus]:
    for value in values:
        if value not in _STATUSES:
            raise SimError(400, f"status must be one of {', '.join(_STATUSES)}")
    return frozenset(BatchStatus(value) for value in values)


def _instant(name: str, raw: str | None) -> float | None:
    """Unix seconds, or an ISO-8601 date or datetime (UTC unless it says)."""
    if raw is None:
        return None
    invalid = SimError(
        400, f"{name} must be unix seconds or an ISO-8601 date or datetime"
    )
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise invalid
        return seconds
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_list_query(
    query: Mapping[str, str], statuses: Sequence[str], store: BatchStore
) -> ListQuery:
    """Read the query string; raise SimError(400) naming the bad parameter."""
    after = query.get("after")
    before_position = None
    if after is not None:
        before_position = store.position(after)
        if before_position is None:
            raise SimError(400, f"after: no batch {after}")
    return ListQuery(
        limit=int_param(
            "limit", query.get("limit"), low=1, high=MAX_LIMIT, default=DEFAULT_LIMIT
        ),
        before_position=before_position,
        statuses=_statuses(statuses),
        created_after=_instant("created_after", query.get("created_after")),
        created_before=_instant("created_before", query.get("created_before")),
    )


def select(store: BatchStore, query: ListQuery) -> tuple[list[Batch], bool]:
    """Return a page of batches, newest first, and whether more follow."""
    page: list[Batch] = []
    for position, batch in store.newest_first():
        if query.before_position is not None and position >= query.before_position:
            continue
        if not query.admits(batch):
            continue
        if len(page) == query.limit:
            return page, True
        page.append(batch)
    return page, False
