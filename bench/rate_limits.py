"""Rate-limit conformance: `python -m bench.rate_limits`.

Four worker processes share one provider limit of R requests/s with burst B
(HELIXQ_PROVIDER_LIMITS); jobs are offered at OFFER jobs/s for T seconds to a
simulator answering in 50 ms. From the simulator's own call log: the worst window
(max over every [a, b] of calls - R*(b - a), which must stay ≤ B) and the calls
admitted during the offer as a share of R*T (should be ≥ 0.95). Own database
(helixq_bench_limits) and Redis db (HELIXQ_BENCH_REDIS_DB, default 5).
"""

import argparse
import os
import time

from bench.limits_harness import (
    MODEL,
    Publisher,
    add_tenant,
    prepare_services,
    sim_calls,
    simulator,
    worker_node,
)
from shared.rate_limits import provider_of
from shared.token_bucket import worst_window

LATENCY_MS = 50
TICK_S = 0.1


def main() -> None:
    """Offer the load, then print the conformance table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--offer", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    redis_db = int(os.environ.get("HELIXQ_BENCH_REDIS_DB", "5"))
    services = prepare_services("helixq_bench_limits", redis_db)
    tenant_id = add_tenant(services, "conformance")
    provider = provider_of(MODEL)
    limits = f"{provider}={args.rate:g}rps/burst={args.burst}"
    with simulator(LATENCY_MS) as base_url:
        env = {"HELIXQ_PROVIDER_LIMITS": limits}
        with worker_node(base_url, services, processes=args.processes, env=env):
            time.sleep(5)  # let the processes start and consume the queue
            started, ended = _offer(Publisher(services), tenant_id, args)
        calls = [
            call["received_ts"]
            for call in sim_calls(base_url)
            if call["model"] and provider_of(call["model"]) == provider
        ]
    _report(sorted(calls), started, ended, args)


def _offer(
    publisher: Publisher, tenant_id: object, args: argparse.Namespace
) -> tuple[float, float]:
    per_tick = args.offer * TICK_S
    started = time.time()
    owed = 0.0
    while (now := time.time()) < started + args.seconds:
        owed += per_tick
        publisher.submit(tenant_id, "conformance", int(owed))  # type: ignore[arg-type]
        owed -= int(owed)
        time.sleep(max(0.0, TICK_S - (time.time() - now)))
    publisher.close()
    return started, time.time()


def _report(
    calls: list[float], started: float, ended: float, args: argparse.Namespace
) -> None:
    worst = worst_window(calls, args.rate).excess
    during = [ts for ts in calls if started <= ts <= ended]
    share = len(during) / (args.rate * (ended - started))
    print(f"limit R={args.rate:g}/s B={args.burst}, {args.processes} worker processes,")
    print(f"offered {args.offer:g} jobs/s for {ended - started:.1f}s")
    print("| measure | value | bound |")
    print("|---|---|---|")
    print(f"| calls seen by the simulator | {len(calls)} | |")
    print(f"| worst window: calls - R*t | {worst:.2f} | <= B = {args.burst} |")
    print(f"| admitted during the offer / (R*T) | {share:.3f} | >= 0.95 |")


if __name__ == "__main__":
    main()
