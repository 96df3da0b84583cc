"""Streaming beside LiteLLM's proxy: `python -m bench.streaming`.

One simulator that paces its tokens (HELIXQ_SIM_LATENCY_MS, then one token every
HELIXQ_SIM_TOKEN_INTERVAL_MS) serves three targets, measured in turn in the same
run: streaming clients straight to the simulator, through LiteLLM's proxy (one
process), and through helixq (one API process, one worker process: every stream a
durable job, queued, claimed, its attempt and answer written to Postgres). At 1 and
at `--concurrency` concurrent streams (closed loops), for each target:

- time to first token: from sending the request to the first content chunk;
- delay per chunk: when each content chunk reached the client, minus when the
  simulator was due to send it (its call log gives each stream's `first_token_ts`;
  token k was due k token intervals later);

each as p50 and p99, and what the proxies add over the direct client. For helixq it
also reads the CPU time of the API's and the worker's processes from /proc and
divides it by the streams served.

LiteLLM is not a dependency: point HELIXQ_BENCH_LITELLM (or --litellm) at its
`litellm` executable (`pip install 'litellm[proxy]'` in a venv of its own); without
it LiteLLM is skipped, and the bench says so. Uses DATABASE_URL's server (database
helixq_bench_streaming, recreated) and REDIS_URL's server (db index
HELIXQ_BENCH_REDIS_DB, 2 unless set, flushed).
"""

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

import aiohttp

from bench.api_stack import SIMULATOR_KEY, api, scratch_services
from bench.proc_cpu import tree_cpu_s
from bench.processes import simulator, worker_node
from bench.sync_path import LITELLM_KEY, MODEL, litellm_proxy

DATABASE = "helixq_bench_streaming"
TOKENS = 16


@dataclass(frozen=True)
class Target:
    name: str
    base_url: str  # the /v1 (or /api/v1) root
    key: str
    pids: tuple[int, ...] = ()  # whose CPU is read (helixq's processes)


@dataclass
class Stream:
    """One streamed request as its client saw it."""

    sent_ts: float
    generation_id: str | None = None
    content_ts: list[float] = field(default_factory=list)  # arrival of each


@dataclass
class Figures:
    first_token_ms: list[float]
    chunk_delay_ms: list[float]
    streams: int
    failed: int
    cpu_ms: dict[int, float]  # pid → CPU ms per stream


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def one_stream(
    session: aiohttp.ClientSession, target: Target, number: int
) -> Stream | None:
    """Send one streamed request; None when it was not answered in full."""
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": f"Stream {number}, please."}],
        "max_tokens": TOKENS,
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {target.key}"}
    stream = Stream(sent_ts=time.time())
    url = f"{target.base_url}/chat/completions"
    async with session.post(url, json=body, headers=headers) as response:
        if response.status != 200:
            await response.read()
            return None
        async for line in response.content:
            arrived_ts = time.time()
            if not line.startswith(b"data: {"):
                if line.startswith(b"data: [DONE]"):
                    return stream
                continue
            chunk = json.loads(line[6:])
            stream.generation_id = stream.generation_id or chunk.get("id")
            choices = chunk.get("choices") or []
            if choices and (choices[0].get("delta") or {}).get("content"):
                stream.content_ts.append(arrived_ts)
    return None  # no [DONE]


async def closed_loop(
    target: Target, *, clients: int, seconds: float
) -> tuple[list[Stream], int]:
    """`clients` loops each streaming one request after another for `seconds`."""
    done: list[Stream] = []
    failed = 0
    stop_at = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def loop(client: int) -> None:
            nonlocal failed
            number = client
            while time.monotonic() < stop_at:
                stream = await one_stream(session, target, number)
                number += clients
                if stream is None:
                    failed += 1
                else:
                    done.append(stream)

        await asyncio.gather(*(loop(client) for client in range(clients)))
    return done, failed


async def schedules(simulator_url: str) -> dict[str, float]:
    """Each streamed call's `first_token_ts`, by generation id; then a reset."""
    async with aiohttp.ClientSession() as session:
        url = f"{simulator_url}/_sim/calls?detail=1"
        async with session.get(url) as response:
            calls = (await response.json())["calls"]
        async with session.post(f"{simulator_url}/_sim/reset") as response:
            response.raise_for_status()
    return {
        call["generation_id"]: call["first_token_ts"]
        for call in calls
        if call["first_token_ts"] is not None
    }


def measure(
    target: Target, simulator_url: str, options: argparse.Namespace, clients: int
) -> Figures:
    asyncio.run(schedules(simulator_url))  # a clean log for this measurement
    cpu_before = {pid: tree_cpu_s(pid) for pid in target.pids}
    streams, failed = asyncio.run(
        closed_loop(target, clients=clients, seconds=options.seconds)
    )
    cpu_after = {pid: tree_cpu_s(pid) for pid in target.pids}
    due = asyncio.run(schedules(simulator_url))
    interval_s = options.token_interval_ms / 1000
    first_token_ms, delay_ms = [], []
    for stream in streams:
        first_due = due.get(stream.generation_id or "")
        if first_due is None or not stream.content_ts:
            failed += 1  # the chunks cannot be matched with the upstream's call
            continue
        first_token_ms.append((stream.content_ts[0] - stream.sent_ts) * 1000)
        for index, arrived_ts in enumerate(stream.content_ts):
            delay_ms.append((arrived_ts - (first_due + index * interval_s)) * 1000)
    served = max(1, len(streams))
    return Figures(
        first_token_ms,
        delay_ms,
        len(streams),
        failed,
        {
            pid: (cpu_after[pid] - cpu_before[pid]) * 1000 / served
            for pid in target.pids
        },
    )


def report(name: str, clients: int, figures: Figures, direct: Figures | None) -> None:
    def added(pick: Callable[[Figures], list[float]], fraction: float) -> str:
        value = percentile(pick(figures), fraction)
        if direct is None:
            return f"{value:.1f}"
        return f"{value:.1f} (+{value - percentile(pick(direct), fraction):.1f})"

    def first(f: Figures) -> list[float]:
        return f.first_token_ms

    def chunk(f: Figures) -> list[float]:
        return f.chunk_delay_ms

    cpu = "".join(
        f", {label} CPU {ms:.2f} ms a stream"
        for label, ms in zip(("API", "worker"), figures.cpu_ms.values(), strict=False)
    )
    print(
        f"  {name}, {clients} concurrent: {figures.streams} streams "
        f"({figures.failed} failed); first token ms p50 {added(first, 0.5)} "
        f"p99 {added(first, 0.99)}; chunk delay ms p50 {added(chunk, 0.5)} "
        f"p99 {added(chunk, 0.99)}{cpu}",
        flush=True,
    )


def main() -> None:
    options = parse_args()
    litellm = options.litellm or os.environ.get("HELIXQ_BENCH_LITELLM")
    if not litellm:
        print(
            "LiteLLM skipped: no `litellm` executable given (--litellm or "
            "HELIXQ_BENCH_LITELLM); measuring the simulator and helixq only"
        )
    services = scratch_services(
        DATABASE, int(os.environ.get("HELIXQ_BENCH_REDIS_DB", "2"))
    )
    with ExitStack() as stack:
        sim_url = stack.enter_context(
            simulator(
                HELIXQ_SIM_LATENCY_MS=str(options.latency_ms),
                HELIXQ_SIM_TOKEN_INTERVAL_MS=str(options.token_interval_ms),
                HELIXQ_SIM_COMPLETION_TOKENS=str(TOKENS),
            )
        )
        env = services.env(sim_url)
        worker_pid = stack.enter_context(worker_node(env, processes=1))
        api_url, api_pid = stack.enter_context(api(env, workers=1))
        targets = [Target("direct", f"{sim_url}/api/v1", SIMULATOR_KEY)]
        if litellm:
            litellm_url = stack.enter_context(litellm_proxy(litellm, sim_url))
            targets.append(Target("LiteLLM", litellm_url, LITELLM_KEY))
        targets.append(
            Target(
                "helixq", f"{api_url}/v1", services.tenant_key, (api_pid, worker_pid)
            )
        )
        for target in targets:  # warm-up: connections, caches, prepared statements
            asyncio.run(closed_loop(target, clients=4, seconds=2))
        for clients in (1, options.concurrency):
            direct = None
            for target in targets:
                figures = measure(target, sim_url, options, clients)
                report(target.name, clients, figures, direct)
                direct = direct or figures


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--litellm", help="LiteLLM's `litellm` executable")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--token-interval-ms", type=int, default=40)
    return parser.parse_args()


if __name__ == "__main__":
    main()
