from decimal import Decimal

from broker_api.dashboard.queries import AttemptStats
from broker_api.dashboard.service import (
    POINTS,
    model_series,
    queue_views,
    throughput_points,
)


def test_throughput_fills_every_bucket_and_groups_other_endings() -> None:
    finished = [(120, "succeeded", 3), (120, "failed", 1), (240, "expired", 2)]
    points = throughput_points(finished, first=60, bucket_s=60)
    assert len(points) == POINTS
    assert [p.t for p in points[:4]] == [60, 120, 180, 240]
    assert (points[1].succeeded, points[1].failed, points[1].other) == (3, 1, 0)
    assert (points[3].succeeded, points[3].other) == (0, 2)
    assert sum(p.succeeded + p.failed + p.other for p in points) == 6


def test_admin_queues_hide_idle_tenants_and_put_the_busiest_first() -> None:
    waiting = {"idle": 0, "small": 1, "big": 9}
    unfinished = {"big": {"running": 2}, "runner": {"running": 3}}
    views = queue_views(waiting, unfinished, show_idle=False)
    assert [(v.tenant, v.waiting, v.running) for v in views] == [
        ("big", 9, 2),
        ("runner", 0, 3),
        ("small", 1, 0),
    ]
    assert [v.tenant for v in queue_views({"idle": 0}, {}, show_idle=True)] == ["idle"]


def _stats(model: str, t: int | None, attempts: int) -> AttemptStats:
    return AttemptStats(model, t, attempts, 0, 100.0, 200.0, 40.0, Decimal("0.01"))


def test_model_series_are_ordered_by_use_with_points_in_time_order() -> None:
    totals = [_stats("rare", None, 1), _stats("busy", None, 5)]
    points = [_stats("busy", 120, 3), _stats("busy", 60, 2), _stats("rare", 60, 1)]
    series = model_series(totals, points)
    assert [s.model for s in series] == ["busy", "rare"]
    assert [p.t for p in series[0].points] == [60, 120]
    assert series[0].cost_usd == Decimal("0.01")
    assert series[0].points[0].cost_usd == 0.01
    assert series[0].first_token_p50_ms == series[0].points[0].first_token_p50_ms == 40
