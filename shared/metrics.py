"""The shared monitoring counters: their names, labels and encoding (pure).

Every worker process adds to one Redis hash (`redis_keys.monitoring_counters()`);
the API reads it whole at scrape time, so `/metrics` is the sum over all processes
however many there are. A hash field is a JSON array `[counter, *label values]`:
model ids hold `/` and `:`, so no separator character would be safe.
"""

import bisect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

# Upper bounds (seconds) of the attempt latency histogram: LLM calls take 0.1 s to
# minutes, so the buckets are wider than prometheus_client's defaults.
LATENCY_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
INFINITY = "+Inf"


class Counter(StrEnum):
    """The counters in the hash; each one's label names follow it in LABELS."""

    ATTEMPTS = "attempts"
    LATENCY_BUCKET = "latency_bucket"  # per bucket, not cumulative
    LATENCY_SUM_S = "latency_sum_s"
    COST_USD = "cost_usd"
    TOKENS = "tokens"
    RATE_LIMIT_WAITS = "rate_limit_waits"
    RATE_LIMIT_WAIT_S = "rate_limit_wait_s"
    WEBHOOK_DELIVERIES = "webhook_deliveries"
    BUDGET_ALERTS = "budget_alerts"


LABELS: dict[Counter, tuple[str, ...]] = {
    Counter.ATTEMPTS: ("model", "provider", "outcome"),
    Counter.LATENCY_BUCKET: ("model", "provider", "le"),
    Counter.LATENCY_SUM_S: ("model", "provider"),
    Counter.COST_USD: ("model", "provider"),
    Counter.TOKENS: ("model", "provider", "kind"),
    Counter.RATE_LIMIT_WAITS: ("scope",),
    Counter.RATE_LIMIT_WAIT_S: ("scope",),
    Counter.WEBHOOK_DELIVERIES: ("outcome",),
    Counter.BUDGET_ALERTS: ("tenant", "threshold"),
}

UNKNOWN_PROVIDER = "unknown"


def counter_field(counter: Counter, *labels: str) -> str:
    """The hash field of one counter with its label values, in LABELS order."""
    if len(labels) != len(LABELS[counter]):
        raise ValueError(f"{counter} takes labels {LABELS[counter]}, got {labels}")
    return json.dumps([counter.value, *labels], separators=(",", ":"))


def latency_bucket(latency_s: float) -> str:
    """The `le` label of the one bucket `latency_s` falls in."""
    index = bisect.bisect_left(LATENCY_BUCKETS_S, latency_s)
    return INFINITY if index == len(LATENCY_BUCKETS_S) else bucket_label(index)


def bucket_label(index: int) -> str:
    return repr(LATENCY_BUCKETS_S[index])


@dataclass(frozen=True, slots=True)
class Sample:
    """One counter value with its labels."""

    counter: Counter
    labels: tuple[str, ...]
    value: float


def parse_counters(raw: Mapping[bytes | str, bytes | str]) -> list[Sample]:
    """The samples of a HGETALL answer; fields this version does not know (written
    by a newer worker during a rolling upgrade) are skipped."""
    samples = []
    for field, value in raw.items():
        parsed = _parse_field(field)
        if parsed is not None:
            samples.append(Sample(parsed[0], parsed[1], float(value)))
    return samples


def _parse_field(field: bytes | str) -> tuple[Counter, tuple[str, ...]] | None:
    try:
        name, *labels = json.loads(field)
        counter = Counter(name)
    except (ValueError, TypeError):
        return None
    if len(labels) != len(LABELS[counter]):
        return None
    return counter, tuple(str(label) for label in labels)


def of_counter(samples: Iterable[Sample], counter: Counter) -> list[Sample]:
    """The samples of one counter."""
    return [sample for sample in samples if sample.counter == counter]
