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

INFINITY = "+Inf"


class Counter(StrEnum):
    """The counters in the hash; each one's label names follow it in LABELS."""

    ATTEMPTS = "attempts"
    LATENCY_BUCKET = "latency_bucket"  # per bucket, not cumulative
    LATENCY_SUM_S = "latency_sum_s"
    FIRST_TOKEN_BUCKET = "first_token_bucket"  # per bucket, not cumulative
    FIRST_TOKEN_SUM_S = "first_token_sum_s"
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
    Counter.FIRST_TOKEN_BUCKET: ("model", "provider", "le"),
    Counter.FIRST_TOKEN_SUM_S: ("model", "provider"),
    # Per tenant: what each tenant spends is the point of the ledger.
    Counter.COST_USD: ("tenant", "model", "provider"),
    Counter.TOKENS: ("tenant", "model", "provider", "kind"),
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


@dataclass(frozen=True, slots=True)
class Histogram:
    """A histogram kept as two counters: one per bucket (not cumulative, so each
    observation is one HINCRBY) and the sum of the observations."""

    bucket_counter: Counter
    sum_counter: Counter
    bounds_s: tuple[float, ...]  # upper bounds, ascending; +Inf is implied

    def bucket(self, value_s: float) -> str:
        """The `le` label of the one bucket `value_s` falls in."""
        index = bisect.bisect_left(self.bounds_s, value_s)
        return INFINITY if index == len(self.bounds_s) else repr(self.bounds_s[index])

    def labels(self) -> list[str]:
        """Every `le` label, ascending, +Inf last."""
        return [repr(bound) for bound in self.bounds_s] + [INFINITY]


# LLM calls take 0.1 s to minutes, so the buckets are wider than
# prometheus_client's defaults.
LATENCY = Histogram(
    Counter.LATENCY_BUCKET,
    Counter.LATENCY_SUM_S,
    (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0),
)
# A streamed call's first chunk comes in tens of milliseconds to tens of seconds
# (reasoning models think before they write).
FIRST_TOKEN = Histogram(
    Counter.FIRST_TOKEN_BUCKET,
    Counter.FIRST_TOKEN_SUM_S,
    (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0),
)


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
