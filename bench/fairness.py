"""Fairness between tenants: `python -m bench.fairness`.

A small tenant submits one job every 2 s for T seconds, first alone, then beside a
20,000-job flood from another tenant, both on one provider limited to R requests/s
(burst B) across four worker processes. Queue wait = the job's first call (the
attempt's start) minus its creation. Prints p50/p95 of the small tenant's waits in
both runs and the difference of the p95s (the issue's bound: at most 1 s). Then
two tenants of weights 3 and 1 flood at once: prints each one's share of the
calls made while both had work. Own database (helixq_bench_limits) and Redis db
(HELIXQ_BENCH_REDIS_DB, default 5).
"""

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from bench.limits_harness import (
    MODEL,
    Publisher,
    Services,
    add_tenant,
    prepare_services,
    simulator,
    worker_node,
)
from shared.rate_limits import provider_of

LATENCY_MS = 50
SMALL_EVERY_S = 2.0
WEIGHTS = {"heavy": 3, "light": 1}
WEIGHTED_FLOOD = 2000  # each: more than R times the measured window
WEIGHTED_WINDOW_S = 30.0
_WAITS = """
SELECT extract(epoch FROM min(a.started_at) - j.created_at)
FROM jobs j JOIN attempts a ON a.job_id = j.id
WHERE j.tenant_id = %s GROUP BY j.id, j.created_at
"""


def main() -> None:
    """Run both scenarios and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--flood", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=50.0)
    args = parser.parse_args()
    alone = _scenario(args, flood=0)
    beside = _scenario(args, flood=args.flood)
    print("| small tenant queue wait | jobs | p50 s | p95 s |")
    print("|---|---|---|---|")
    for name, waits in (("alone", alone), (f"beside a {args.flood} flood", beside)):
        print(
            f"| {name} | {len(waits)} | {_pct(waits, 50):.3f} | {_pct(waits, 95):.3f} |"
        )
    print(f"p95 difference: {_pct(beside, 95) - _pct(alone, 95):.3f} s (bound 1 s)")
    calls = _weighted_scenario(args)
    total = sum(calls.values())
    print("| tenant | weight | calls while both had work | share | expected |")
    print("|---|---|---|---|---|")
    for slug, weight in WEIGHTS.items():
        expected = weight / sum(WEIGHTS.values())
        share = calls[slug] / total
        print(f"| {slug} | {weight} | {calls[slug]} | {share:.3f} | {expected:.3f} |")


def _scenario(args: argparse.Namespace, *, flood: int) -> list[float]:
    tenants: dict[str, dict[str, Any] | None] = {"small": None, "flood": None}
    with _limited_node(args, tenants) as (services, publisher, ids):
        for _ in range(flood // 1000):
            publisher.submit(ids["flood"], "flood", 1000)
        _trickle(publisher, ids["small"], args.seconds)
        time.sleep(3)  # the last small job's call
    return _waits(services, ids["small"])


def _weighted_scenario(args: argparse.Namespace) -> dict[str, int]:
    tenants: dict[str, dict[str, Any] | None] = {
        slug: {"weight": weight} for slug, weight in WEIGHTS.items()
    }
    with _limited_node(args, tenants) as (services, publisher, ids):
        for slug, tenant_id in ids.items():
            publisher.submit(tenant_id, slug, WEIGHTED_FLOOD)
        time.sleep(WEIGHTED_WINDOW_S)
    with psycopg.connect(services.database_url) as connection:
        return {
            slug: _count_calls(connection, tenant_id) for slug, tenant_id in ids.items()
        }


@contextmanager
def _limited_node(
    args: argparse.Namespace, tenants: dict[str, dict[str, Any] | None]
) -> Iterator[tuple[Services, Publisher, dict[str, uuid.UUID]]]:
    """Fresh services with `tenants` (slug: limits), the simulator and a node of
    four worker processes under one provider limit; yields what submits jobs."""
    redis_db = int(os.environ.get("HELIXQ_BENCH_REDIS_DB", "5"))
    services = prepare_services("helixq_bench_limits", redis_db)
    ids = {slug: add_tenant(services, slug, limits) for slug, limits in tenants.items()}
    limits = f"{provider_of(MODEL)}={args.rate:g}rps/burst={args.burst}"
    env = {"HELIXQ_PROVIDER_LIMITS": limits}
    with (
        simulator(LATENCY_MS) as base_url,
        worker_node(base_url, services, processes=4, env=env),
    ):
        time.sleep(5)  # let the processes start and consume the queues
        publisher = Publisher(services)
        try:
            yield services, publisher, ids
        finally:
            publisher.close()


def _count_calls(connection: psycopg.Connection[Any], tenant_id: uuid.UUID) -> int:
    row = connection.execute(
        "SELECT count(*) FROM attempts a JOIN jobs j ON j.id = a.job_id"
        " WHERE j.tenant_id = %s",
        (tenant_id,),
    ).fetchone()
    return int(row[0]) if row else 0


def _trickle(publisher: Publisher, tenant_id: uuid.UUID, seconds: float) -> None:
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        publisher.submit(tenant_id, "small", 1)
        time.sleep(SMALL_EVERY_S)


def _waits(services: Services, tenant_id: uuid.UUID) -> list[float]:
    with psycopg.connect(services.database_url) as connection:
        rows = connection.execute(_WAITS, (tenant_id,)).fetchall()
    return [float(row[0]) for row in rows]


def _pct(values: list[float], percent: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


if __name__ == "__main__":
    main()
