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
    INFINITY,
    LABELS,
    LATENCY_BUCKETS_S,
    Counter,
    Sample,
    bucket_label,
    of_counter,
)

# Counters shown as they are stored: (name, help, shared counter).
_PLAIN_COUNTERS = (
    ("helixq_attempts", "Calls to OpenRouter.", Counter.ATTEMPTS),
    ("helixq_cost_usd", "Cost reported by OpenRouter, USD.", Counter.COST_USD),
    ("helixq_tokens", "Tokens by kind (prompt, completion).", Counter.TOKENS),
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
        yield _latency_histogram(self._snapshot.counters)
        yield from _health_families(self._snapshot)


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


def _latency_histogram(samples: list[Sample]) -> Metric:
    family = HistogramMetricFamily(
        "helixq_attempt_latency_seconds",
        "Latency of calls to OpenRouter.",
        labels=["model", "provider"],
    )
    per_bucket: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for sample in of_counter(samples, Counter.LATENCY_BUCKET):
        model, provider, le = sample.labels
        per_bucket[(model, provider)][le] = sample.value
    sums = {s.labels: s.value for s in of_counter(samples, Counter.LATENCY_SUM_S)}
    bounds = [bucket_label(i) for i in range(len(LATENCY_BUCKETS_S))] + [INFINITY]
    for labels, counts in sorted(per_bucket.items()):
        cumulative, buckets = 0.0, []
        for le in bounds:  # stored per bucket: Prometheus wants running totals
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
