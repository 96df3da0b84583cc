"""Counter fields round-trip, and the collector renders a valid exposition."""

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from broker_api.metrics.collector import SnapshotCollector
from broker_api.metrics.snapshot import JobCount, Snapshot
from shared.metrics import (
    FIRST_TOKEN,
    LATENCY,
    Counter,
    Sample,
    counter_field,
    parse_counters,
)
from shared.upstream_health import UpstreamCheck


@pytest.mark.parametrize(
    ("latency_s", "bucket"), [(0.05, "0.1"), (0.1, "0.1"), (0.3, "0.5"), (500, "+Inf")]
)
def test_latency_falls_in_the_first_bucket_that_holds_it(latency_s, bucket) -> None:
    assert LATENCY.bucket(latency_s) == bucket


@pytest.mark.parametrize(
    ("first_token_s", "bucket"),
    [(0.01, "0.05"), (0.05, "0.05"), (0.3, "0.5"), (45, "60.0"), (61, "+Inf")],
)
def test_first_token_falls_in_the_first_bucket_that_holds_it(
    first_token_s, bucket
) -> None:
    assert FIRST_TOKEN.bucket(first_token_s) == bucket


def test_fields_round_trip_and_unknown_ones_are_skipped() -> None:
    field = counter_field(Counter.ATTEMPTS, "openrouter/auto", "A|B", "succeeded")
    raw = {field.encode(): b"3", b'["from_the_future","x"]': b"1", b"garbage": b"2"}
    assert parse_counters(raw) == [
        Sample(Counter.ATTEMPTS, ("openrouter/auto", "A|B", "succeeded"), 3.0)
    ]


def test_counter_field_refuses_the_wrong_labels() -> None:
    with pytest.raises(ValueError, match="takes labels"):
        counter_field(Counter.COST_USD, "only-a-model")


def _exposition(snapshot: Snapshot) -> dict:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_collector_renders_cumulative_buckets_and_health() -> None:
    now = datetime.now(UTC)
    labels = ("m", "p")
    snapshot = Snapshot(
        queue_depth={"acme": 4},
        oldest_due_age_s={"acme": 12.5},
        jobs=[JobCount("acme", "queued", 4)],
        counters=[
            Sample(Counter.LATENCY_BUCKET, (*labels, "0.25"), 2),
            Sample(Counter.LATENCY_BUCKET, (*labels, "+Inf"), 1),
            Sample(Counter.LATENCY_SUM_S, labels, 200.4),
            Sample(Counter.FIRST_TOKEN_BUCKET, (*labels, "0.05"), 1),
            Sample(Counter.FIRST_TOKEN_BUCKET, (*labels, "0.5"), 2),
            Sample(Counter.FIRST_TOKEN_SUM_S, labels, 0.84),
        ],
        workers_alive=3,
        upstream=UpstreamCheck(
            ok=False, status=503, latency_ms=20, checked_at=now - timedelta(seconds=30)
        ),
        taken_at=now,
    )
    found = _exposition(snapshot)
    hist = (("model", "m"), ("provider", "p"))
    assert found[("helixq_attempt_latency_seconds_bucket", (("le", "0.1"), *hist))] == 0
    assert (
        found[("helixq_attempt_latency_seconds_bucket", (("le", "0.25"), *hist))] == 2
    )
    assert (
        found[("helixq_attempt_latency_seconds_bucket", (("le", "+Inf"), *hist))] == 3
    )
    assert found[("helixq_attempt_latency_seconds_count", hist)] == 3
    first = "helixq_attempt_first_token_seconds"
    assert found[(f"{first}_bucket", (("le", "0.05"), *hist))] == 1
    assert found[(f"{first}_bucket", (("le", "0.25"), *hist))] == 1
    assert found[(f"{first}_bucket", (("le", "0.5"), *hist))] == 3
    assert found[(f"{first}_bucket", (("le", "+Inf"), *hist))] == 3
    assert found[(f"{first}_count", hist)] == 3
    assert found[(f"{first}_sum", hist)] == pytest.approx(0.84)
    assert found[("helixq_queue_depth", (("tenant", "acme"),))] == 4
    assert found[("helixq_workers_alive", ())] == 3
    assert found[("helixq_upstream_up", ())] == 0
    assert found[("helixq_upstream_check_age_seconds", ())] == pytest.approx(30)
