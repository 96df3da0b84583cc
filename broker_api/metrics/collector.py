"""A prometheus_client Collector over one Snapshot: metric families built per
scrape, never process-local counters (several API processes must agree)."""

from collections import defaultdict
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from broker_api.metrics.snapshot import Snapshot
from shared.metrics import (
    FIRST_TOKEN,
    LABELS,
    LATENCY,
    Counter,
    Histogram,
    Sample,
    of_counter,
)

# Counters shown as they are stored: (name, help, shared counter).
_PLAIN_COUNTERS = (
    ("helixq_attempts", "Calls to OpenRouter.", Counter.ATTEMPTS),
    (
        "helixq_cost_usd",
        "Cost of calls as first recorded (reported, else estimated), USD.",
        Counter.COST_USD,
    ),
    (
        "helixq_tokens",
        "Tokens by kind (prompt, completion, cached, cache_write, reasoning).",
        Counter.TOKENS,
    ),
    (
        "helixq_rate_limit_waits",
        "Waits for a rate-limit token.",
        Counter.RATE_LIMIT_WAITS,
    ),
    (
        "helixq_rate_limit_wait_seconds",
        "Time spent waiting for rate-limit tokens.",
        Counter.RATE_LIMIT_WAIT_S,
    ),
    (
        "helixq_webhook_deliveries",
        "Webhook delivery tries by resulting status.",
        Counter.WEBHOOK_DELIVERIES,
    ),
    (
        "helixq_budget_alerts",
        "Budget thresholds reached, by tenant and percent (once per period each).",
        Counter.BUDGET_ALERTS,
    ),
)


class SnapshotCollector(Collector):
    """Yields every helixq metric family from one snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from _queue_families(self._snapshot)
        yield from _counter_families(self._snapshot.counters)
        yield _histogram(
            "helixq_attempt_latency_seconds",
            "Latency of calls to OpenRouter.",
            LATENCY,
            self._snapshot.counters,
        )
        yield _histogram(
            "helixq_attempt_first_token_seconds",
            "Time to the first chunk of streamed calls to OpenRouter.",
            FIRST_TOKEN,
            self._snapshot.counters,
        )
        yield from _health_families(self._snapshot)
        yield from _ledger_families(self._snapshot)


def _queue_families(snapshot: Snapshot) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "helixq_queue_depth",
        "Messages waiting in a tenant's Celery queue (all priorities).",
        labels=["tenant"],
    )
    for tenant, messages in sorted(snapshot.queue_depth.items()):
        depth.add_metric([tenant], messages)
    oldest = GaugeMetricFamily(
        "helixq_queue_oldest_job_age_seconds",
        "Age of a tenant's oldest job that is queued and due.",
        labels=["tenant"],
    )
    for tenant, age_s in sorted(snapshot.oldest_due_age_s.items()):
        oldest.add_metric([tenant], age_s)
    jobs = GaugeMetricFamily(
        "helixq_jobs", "Jobs by tenant and status.", labels=["tenant", "status"]
    )
    for count in snapshot.jobs:
        jobs.add_metric([count.tenant, count.status], count.jobs)
    yield from (depth, oldest, jobs)


def _counter_families(samples: list[Sample]) -> Iterator[Metric]:
    for name, documentation, counter in _PLAIN_COUNTERS:
        family = CounterMetricFamily(name, documentation, labels=list(LABELS[counter]))
        for sample in of_counter(samples, counter):
            family.add_metric(list(sample.labels), sample.value)
        yield family


def _histogram(
    name: str, documentation: str, histogram: Histogram, samples: list[Sample]
) -> Metric:
    family = HistogramMetricFamily(name, documentation, labels=["model", "provider"])
    per_bucket: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for sample in of_counter(samples, histogram.bucket_counter):
        model, provider, le = sample.labels
        per_bucket[(model, provider)][le] = sample.value
    sums = {s.labels: s.value for s in of_counter(samples, histogram.sum_counter)}
    for labels, counts in sorted(per_bucket.items()):
        cumulative, buckets = 0.0, []
        for le in histogram.labels():  # stored per bucket: Prometheus wants totals
            cumulative += counts.get(le, 0.0)
            buckets.append((le, cumulative))
        family.add_metric(list(labels), buckets, sum_value=sums.get(labels, 0.0))
    return family


def _health_families(snapshot: Snapshot) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "helixq_workers_alive",
        "Worker processes with a live heartbeat.",
        value=snapshot.workers_alive,
    )
    check = snapshot.upstream
    if check is None:
        return  # no check stored yet: absent rather than a made-up value
    yield GaugeMetricFamily(
        "helixq_upstream_up",
        "1 if the last OpenRouter check (GET /key) succeeded.",
        value=1.0 if check.ok else 0.0,
    )
    yield GaugeMetricFamily(
        "helixq_upstream_check_age_seconds",
        "Seconds since the last OpenRouter check.",
        value=(snapshot.taken_at - check.checked_at).total_seconds(),
    )
    if check.latency_ms is not None:
        yield GaugeMetricFamily(
            "helixq_upstream_check_latency_seconds",
            "Latency of the last OpenRouter check.",
            value=check.latency_ms / 1000,
        )


def _ledger_families(snapshot: Snapshot) -> Iterator[Metric]:
    unattributed = GaugeMetricFamily(
        "helixq_cost_unattributed_usd",
        "OpenRouter's activity minus the ledger, per model over the last 30 days,"
        " that no attempt could take (docs/ledger.md).",
        labels=["model"],
    )
    for model, usd in sorted(snapshot.unattributed_usd.items()):
        unattributed.add_metric([model], usd)
    open_costs = GaugeMetricFamily(
        "helixq_ledger_open_attempts",
        "Calls whose cost is still estimated or unknown.",
        labels=["cost_source"],
    )
    for source in ("estimated", "unknown"):
        open_costs.add_metric([source], snapshot.open_costs.get(source, 0))
    yield from (unattributed, open_costs)
