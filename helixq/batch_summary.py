"""What `helixq submit --wait` reports once a batch ended, from its result lines."""

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

HEADERS = ("SUCCEEDED", "FAILED", "EXPIRED", "CANCELLED", "COST USD", "P50 LATENCY")


@dataclass(frozen=True)
class BatchSummary:
    succeeded: int
    failed: int
    expired: int
    cancelled: int
    cost_usd: Decimal
    p50_latency_ms: float | None  # of the succeeded items; None when there are none

    @property
    def is_all_succeeded(self) -> bool:
        return not (self.failed or self.expired or self.cancelled)


def summarize(results: Iterable[Mapping[str, Any]]) -> BatchSummary:
    """Counts by status, the exact total cost, the median latency of successes."""
    statuses: Counter[str] = Counter()
    cost = Decimal(0)
    latencies: list[int] = []
    for line in results:
        status = str(line.get("status"))
        statuses[status] += 1
        cost += _decimal(line.get("cost_usd"))
        latency = line.get("latency_ms")
        if status == "succeeded" and isinstance(latency, int):
            latencies.append(latency)
    return BatchSummary(
        succeeded=statuses["succeeded"],
        failed=statuses["failed"],
        expired=statuses["expired"],
        cancelled=statuses["cancelled"],
        cost_usd=cost,
        p50_latency_ms=statistics.median(latencies) if latencies else None,
    )


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)  # a malformed cost must not hide the rest of the summary


def summary_row(summary: BatchSummary) -> tuple[str, ...]:
    latency = summary.p50_latency_ms
    return (
        str(summary.succeeded),
        str(summary.failed),
        str(summary.expired),
        str(summary.cancelled),
        format_usd(summary.cost_usd),
        "-" if latency is None else f"{latency:.0f} ms",
    )


def format_usd(amount: Decimal) -> str:
    """Exact, without exponent or trailing zeros: `0.000123`, `0`."""
    text = format(amount.normalize(), "f")
    return "0" if text in {"-0", ""} else text
