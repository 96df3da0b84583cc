"""Routing strategies on 1,000 mixed prompts: `python -m bench.routing_strategies`.

Every strategy routes the same prompts (short chat, code, reasoning, tools,
structured output, long context) over one tenant pool; the calls go straight to
the simulator (`python -m simulator`, started here with per-model latencies and a
flaky model), not through the broker, so the figures isolate routing. Costs are
the simulator's `usage.cost`, computed from the real catalog prices. A failed
call moves to the next candidate with `reorder_after_failure`, as the worker does.
Prints a table (total cost, success rate, p50/p95 latency) and cost_optimized's
cost as a ratio of basic's.
"""

import argparse
import random
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench import processes
from shared.routing.catalog import by_id, load_snapshot
from shared.routing.classifier import RequestClass
from shared.routing.performance import AttemptSample, ModelStats, decay, record_sample
from shared.routing.pool import PoolEntry, TenantRouting
from shared.routing.rotation import MemoryRotation, Weights
from shared.routing.router import (
    RoutingDefaults,
    RoutingInputs,
    reorder_after_failure,
    route,
)
from shared.strategies import FallbackStrategy, RouteStrategy

SNAPSHOT = Path(__file__).parents[1] / "simulator" / "data" / "openrouter-models.json"
API_KEY = "sk-or-v1-bench"
SEED = 20261124
LATENCY_MS = {
    "openai/gpt-4o": 120,
    "anthropic/claude-sonnet-4.5": 200,
    "google/gemini-2.5-flash": 50,
    "qwen/qwen3-coder": 90,
    "openai/gpt-4o-mini": 70,
    "meta-llama/llama-3.1-8b-instruct": 150,  # 16k context: long prompts fail
    "mistralai/mistral-nemo": 40,  # the cheapest, and it fails one call in five
}
FLAKY = "mistralai/mistral-nemo=0.2"
POOL = (
    PoolEntry("openai/gpt-4o", 3),
    PoolEntry("anthropic/claude-sonnet-4.5", 1, tier=RequestClass.REASONING),
    PoolEntry("google/gemini-2.5-flash", 2, tier=RequestClass.LONG_CONTEXT),
    PoolEntry("qwen/qwen3-coder", 2, tier=RequestClass.CODE),
    PoolEntry("openai/gpt-4o-mini", 2, tier=RequestClass.STRUCTURED),
    PoolEntry("meta-llama/llama-3.1-8b-instruct", 1, tier=RequestClass.CHAT),
    PoolEntry("mistralai/mistral-nemo", 1),
)
DEFAULT_MODEL = "openai/gpt-4o"  # what basic sends everything to
MAX_ATTEMPTS = 3
DEADLINE_S = 110.0


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    cost_usd: Decimal
    latency_s: float
    attempts: int


class LockedRotation(MemoryRotation):
    """MemoryRotation shared by the bench's threads."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def next(self, scope: str, weights: Weights) -> str:
        with self._lock:
            return super().next(scope, weights)


class PerformanceBook:
    """The performance cache in memory, with the same arithmetic as Redis."""

    def __init__(self) -> None:
        self._stats: dict[str, ModelStats] = {}
        self._lock = threading.Lock()

    def record(self, model: str, sample: AttemptSample) -> None:
        with self._lock:
            self._stats[model] = record_sample(
                self._stats.get(model), sample, time.time()
            )

    def snapshot(self) -> dict[str, ModelStats]:
        now = time.time()
        with self._lock:
            return {model: decay(stats, now) for model, stats in self._stats.items()}


def mixed_prompts(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Short chat 40%, code 20%, reasoning 15%, tools 10%, structured 10%, long 5%."""
    kinds = ["chat"] * 8 + ["code"] * 4 + ["reasoning"] * 3 + ["tools"] * 2
    kinds += ["structured"] * 2 + ["long"]
    return [_prompt(rng.choice(kinds), index) for index in range(count)]


def _prompt(kind: str, index: int) -> dict[str, Any]:
    text = {
        "chat": f"Hi! Suggest a name for a cat, number {index}.",
        "code": f"Fix:\n```python\ndef add(a, b):\n    return a - b  # {index}\n```",
        "reasoning": f"Explain why the sky is blue, step by step ({index}).",
        "tools": f"What is the weather in city {index}?",
        "structured": f"List three colours as JSON ({index}).",
        "long": "Summarise this report. " + "The quarter went well. " * 4_400,
    }[kind]
    body: dict[str, Any] = {"messages": [{"role": "user", "content": text}]}
    body["max_tokens"] = 64
    if kind == "tools":
        body["tools"] = [{"type": "function", "function": {"name": "weather"}}]
    if kind == "structured":
        body["response_format"] = {"type": "json_object"}
    return body


def run_strategy(
    strategy: RouteStrategy, prompts: list[dict[str, Any]], base_url: str, threads: int
) -> list[Outcome]:
    """Route and send every prompt with `strategy`; fresh state per strategy."""
    tenant = TenantRouting(
        "bench", DEFAULT_MODEL, strategy, FallbackStrategy.BASIC, POOL
    )
    shared = {
        "catalog": by_id(load_snapshot(SNAPSHOT)),
        "rotation": LockedRotation(),
        "rng": random.Random(SEED),
        "book": PerformanceBook(),
    }
    limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
    with httpx.Client(base_url=base_url, limits=limits, timeout=10.0) as client:
        client.headers["Authorization"] = f"Bearer {API_KEY}"
        with ThreadPoolExecutor(threads) as pool:
            jobs = [
                pool.submit(_run_job, client, prompt, tenant, shared)
                for prompt in prompts
            ]
            return [job.result() for job in jobs]


def _run_job(
    client: httpx.Client,
    prompt: dict[str, Any],
    tenant: TenantRouting,
    shared: dict[str, Any],
) -> Outcome:
    book: PerformanceBook = shared["book"]
    inputs = RoutingInputs(
        request=prompt,
        tenant=tenant,
        defaults=RoutingDefaults(default_model=DEFAULT_MODEL),
        catalog=shared["catalog"],
        performance=book.snapshot(),
        rotation=shared["rotation"],
        rng=shared["rng"],
    )
    decision = route(inputs)
    started, cost = time.perf_counter(), Decimal(0)
    model = decision.next_model()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if model is None:
            break
        status, body, latency_ms = _call(client, {**prompt, "model": model})
        usage = body.get("usage") or {}
        cost += Decimal(str(usage.get("cost", 0)))
        book.record(
            model,
            AttemptSample(status == 200, latency_ms, usage.get("completion_tokens")),
        )
        if status == 200:
            return Outcome(True, cost, time.perf_counter() - started, attempt)
        decision = reorder_after_failure(
            decision,
            inputs,
            failed_model=model,
            error_code=_error_code(status, body),
            http_status=status,
        )
        model = decision.next_model()
    return Outcome(False, cost, time.perf_counter() - started, MAX_ATTEMPTS)


def _call(
    client: httpx.Client, body: dict[str, Any]
) -> tuple[int, dict[str, Any], float]:
    started = time.perf_counter()
    try:
        response = client.post("/chat/completions", json=body)
        payload = response.json()
        status = response.status_code
    except (httpx.HTTPError, ValueError):
        payload, status = {}, 0
    return (
        status,
        payload if isinstance(payload, dict) else {},
        (time.perf_counter() - started) * 1000,
    )


def _error_code(status: int, body: dict[str, Any]) -> str | None:
    """The worker's codes, roughly: enough for the fallback decision."""
    message = str((body.get("error") or {}).get("message", "")).lower()
    if status == 400 and "context length" in message:
        return "upstream_context_length"
    codes = {
        0: "upstream_unavailable",
        429: "upstream_rate_limited",
        400: "upstream_bad_request",
    }
    return codes.get(status, "upstream_unavailable" if status >= 500 else None)


Row = tuple[Decimal, float, float, float, float]


def summarise(outcomes: list[Outcome]) -> Row:
    """Total cost, success rate, p50 and p95 latency (ms), attempts per job."""
    latencies = sorted(outcome.latency_s * 1000 for outcome in outcomes)
    cuts = statistics.quantiles(latencies, n=100)
    success = sum(outcome.succeeded for outcome in outcomes) / len(outcomes)
    attempts = sum(outcome.attempts for outcome in outcomes) / len(outcomes)
    cost = sum((outcome.cost_usd for outcome in outcomes), Decimal(0))
    return cost, success, cuts[49], cuts[94], attempts


@contextmanager
def simulator() -> Iterator[str]:
    """`python -m simulator` on a free port with per-model latencies; yields its
    OpenRouter base URL."""
    settings = {
        "HELIXQ_SIM_MODEL_LATENCY_MS": ",".join(
            f"{m}={ms}" for m, ms in LATENCY_MS.items()
        ),
        "HELIXQ_SIM_MODEL_FAILURE_RATE": FLAKY,
        "HELIXQ_SIM_SEED": str(SEED),
        "HELIXQ_SIM_LATENCY_JITTER_MS": "10",
    }
    with processes.simulator(**settings) as base_url:
        yield f"{base_url}/api/v1"


def print_table(rows: dict[RouteStrategy, Row]) -> None:
    print(
        "| strategy | total cost (USD) | success | p50 (ms) | p95 (ms) | attempts/job |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for strategy, (cost, success, p50, p95, attempts) in rows.items():
        print(
            f"| {strategy.value} | {cost:.6f} | {success:.1%} | {p50:.0f} | {p95:.0f} "
            f"| {attempts:.3f} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.routing_strategies")
    parser.add_argument("--prompts", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=32)
    options = parser.parse_args(argv)
    prompts = mixed_prompts(options.prompts, random.Random(SEED))
    started = time.monotonic()
    rows: dict[RouteStrategy, Row] = {}
    with simulator() as base_url:
        for strategy in RouteStrategy:
            if time.monotonic() - started > DEADLINE_S:
                print(f"deadline reached; {strategy.value} skipped")
                continue
            rows[strategy] = summarise(
                run_strategy(strategy, prompts, base_url, options.threads)
            )
    print(
        f"{len(prompts)} prompts each, fallback basic, {MAX_ATTEMPTS} tries at most\n"
    )
    print_table(rows)
    basic, cheap = rows.get(RouteStrategy.BASIC), rows.get(RouteStrategy.COST_OPTIMIZED)
    if basic and cheap and basic[0]:
        print(f"\ncost_optimized / basic = {cheap[0] / basic[0]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
