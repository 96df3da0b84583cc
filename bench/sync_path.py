"""The synchronous path beside LiteLLM's proxy: `python -m bench.sync_path`.

`POST /v1/chat/completions` through helixq's queue (one API process, one worker
process) and through LiteLLM's proxy (one process), both in front of the same
simulator answering at once, in alternating rounds (A B A B: the machine's speed
drifts, pairs keep the comparison fair):

1. one client, one call at a time: latency added over calling the simulator
   directly (p50, p99);
2. 64 clients in a closed loop: calls per second.

LiteLLM is not a dependency: point HELIXQ_BENCH_LITELLM (or --litellm) at its
`litellm` executable (`pip install 'litellm[proxy]'` in a venv of its own); without
it only helixq is measured, and the bench says so. Uses DATABASE_URL's server
(database helixq_bench_sync, recreated) and REDIS_URL's server (db index
HELIXQ_BENCH_REDIS_DB, 2 unless set, flushed).
"""

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.api_stack import SIMULATOR_KEY, api, scratch_services
from bench.http_load import Outcome, build_request, closed_loop
from bench.processes import simulator, worker_node
from helixq.processes import Supervisor, answers, free_port

DATABASE = "helixq_bench_sync"
LITELLM_KEY = f"sk-bench-{secrets.token_hex(16)}"
MODEL = "openai/gpt-4o-mini"
BODY = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "Say hello in one word."}],
    "max_tokens": 16,
}


def chat_request(base_url: str, key: str) -> Callable[[int], bytes]:
    request = build_request(
        "POST",
        f"{base_url}/chat/completions",
        body=json.dumps(BODY).encode(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    return lambda _number: request


def litellm_config(simulator_url: str) -> Path:
    """LiteLLM's proxy config: the one model, served by the simulator."""
    config = {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"openai/{MODEL}",
                    "api_base": f"{simulator_url}/api/v1",
                    "api_key": SIMULATOR_KEY,
                },
            }
        ],
        "litellm_settings": {"telemetry": False, "drop_params": True},
    }
    path = Path(tempfile.mkdtemp(prefix="helixq-bench-litellm-")) / "config.json"
    path.write_text(json.dumps(config))
    return path


@contextmanager
def litellm_proxy(executable: str, simulator_url: str) -> Iterator[str]:
    """LiteLLM's proxy, one process, on a free port; yields its /v1 base URL."""
    port = free_port()
    log = Path(f"/tmp/helixq-bench-litellm-{port}.log")
    # Without DATABASE_URL: LiteLLM would keep its own tables in that database.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no download at start
    env["LITELLM_LOG"] = "ERROR"
    # It refuses to start open; its master key is checked in memory, as ours in
    # the key cache.
    env["LITELLM_MASTER_KEY"] = LITELLM_KEY
    argv = [executable, "--config", str(litellm_config(simulator_url))]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    supervisor = Supervisor()
    try:
        supervisor.start("litellm", argv, env, log=log)
        supervisor.wait_until_ready(
            lambda: answers(f"http://127.0.0.1:{port}/health/liveliness"),
            timeout_s=180,
            what="LiteLLM's proxy",
        )
        yield f"http://127.0.0.1:{port}/v1"
    except BaseException:
        print(f"LiteLLM's output: {log}", file=sys.stderr)
        raise
    finally:
        supervisor.stop_all(20)


def run(base_url: str, make: Callable[[int], bytes], clients: int, s: float) -> Outcome:
    return asyncio.run(closed_loop(base_url, make, clients=clients, seconds=s))


def measure(
    name: str, base_url: str, key: str, options: argparse.Namespace
) -> dict[str, float]:
    make = chat_request(base_url, key)
    run(base_url, make, 8, 1.0)  # warm-up: connections, caches, prepared statements
    one = run(base_url, make, 1, options.seconds)
    many = run(base_url, make, options.clients, options.seconds)
    figures = {
        "p50": one.percentile_ms(0.5),
        "p99": one.percentile_ms(0.99),
        "rate": many.rate,
        "errors": float(one.not_ok + many.not_ok),
    }
    print(
        f"  {name}: one client p50 {figures['p50']:.2f} ms "
        f"p99 {figures['p99']:.2f} ms; "
        f"{options.clients} clients {figures['rate']:.0f} calls/s; non-2xx "
        f"{figures['errors']:.0f} {one.statuses() | many.statuses()}",
        flush=True,
    )
    return figures


def main() -> None:
    options = parse_args()
    litellm = options.litellm or os.environ.get("HELIXQ_BENCH_LITELLM")
    if not litellm:
        print("LiteLLM not given (--litellm or HELIXQ_BENCH_LITELLM): helixq only")
    services = scratch_services(
        DATABASE, int(os.environ.get("HELIXQ_BENCH_REDIS_DB", "2"))
    )
    results: dict[str, list[dict[str, float]]] = {"direct": [], "helixq": []}
    with ExitStack() as stack:
        sim_url = stack.enter_context(simulator(HELIXQ_SIM_LATENCY_MS="0"))
        env = services.env(
            sim_url, HELIXQ_WORKER_CONCURRENCY=str(options.worker_concurrency)
        )
        stack.enter_context(worker_node(env, processes=1))
        api_url, _ = stack.enter_context(api(env, workers=1))
        litellm_url = (
            stack.enter_context(litellm_proxy(litellm, sim_url)) if litellm else None
        )
        for number in range(1, options.rounds + 1):
            print(f"round {number}", flush=True)
            results["direct"].append(
                measure("simulator", f"{sim_url}/api/v1", SIMULATOR_KEY, options)
            )
            results["helixq"].append(
                measure("helixq", f"{api_url}/v1", services.tenant_key, options)
            )
            if litellm_url:
                results.setdefault("litellm", []).append(
                    measure("LiteLLM", litellm_url, LITELLM_KEY, options)
                )
    summarize(results)


def summarize(results: dict[str, list[dict[str, float]]]) -> None:
    def median(name: str, figure: str) -> float:
        return statistics.median(run[figure] for run in results[name])

    direct_p50, direct_p99 = median("direct", "p50"), median("direct", "p99")
    print("medians over the rounds:")
    for name in results:
        if name == "direct":
            continue
        print(
            f"  {name}: {median(name, 'rate'):.0f} calls/s (64 clients); added over "
            f"the simulator: p50 +{median(name, 'p50') - direct_p50:.2f} ms, "
            f"p99 +{median(name, 'p99') - direct_p99:.2f} ms"
        )
    if "litellm" in results:
        ratios = [
            ours["rate"] / theirs["rate"]
            for ours, theirs in zip(results["helixq"], results["litellm"], strict=True)
        ]
        print(
            f"  helixq / LiteLLM calls/s, round by round: "
            f"{', '.join(f'{r:.2f}' for r in ratios)}"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--litellm", help="LiteLLM's `litellm` executable")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=4,
        help="HELIXQ_WORKER_CONCURRENCY of the one worker process",
    )
    return parser.parse_args()


if __name__ == "__main__":
    main()
