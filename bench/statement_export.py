"""A month's statement: `python -m bench.statement_export`.

Fills a month with attempts of one tenant (100,000 by default, written in SQL),
then downloads `GET /v1/usage/export?month=` as CSV and as JSON Lines from a real
API process, reading the body as it streams, and measures the time, the rate, the
API process's peak memory (VmHWM) and the CPU it used (from /proc). It does the
same for a month a tenth the size in a fresh API process, so that the memory
figures show whether the peak grows with the month. The rows' costs are summed and
compared with `GET /v1/usage` for the month. Uses DATABASE_URL's server (database
helixq_bench_statement, recreated) and REDIS_URL's server (db index 1, flushed).
"""

import argparse
import os
import time
from dataclasses import dataclass
from decimal import Decimal

import httpx
import psycopg
import redis

from bench.batch_ingest import api_process, bench_tenant, peak_rss_mib, rss_mib
from bench.proc_cpu import tree_cpu_s
from helixq.scratch_services import fresh_database, redis_database

DATABASE = "helixq_bench_statement"
REDIS_DB = 1
MONTH = "2026-11"

# One job per attempt, spread over the month, costs on the ledger's 1e-12 grid.
_FILL = """
WITH tenant AS (SELECT id FROM tenants WHERE slug = %(slug)s),
jobs AS (
    INSERT INTO jobs (id, tenant_id, status, request, created_at)
    SELECT gen_random_uuid(), tenant.id, 'succeeded',
        '{"model": "openai/gpt-4o-mini", "messages": []}'::jsonb,
        timestamptz '2026-11-01' + n * interval '25 seconds'
    FROM tenant, generate_series(0, %(count)s - 1) AS n
    RETURNING id, created_at
)
INSERT INTO attempts (id, job_id, number, model, provider, generation_id, outcome,
    http_status, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens,
    is_byok, cost_usd, cost_source, latency_ms, started_at)
SELECT gen_random_uuid(), jobs.id, 1, 'openai/gpt-4o-mini', 'OpenAI',
    'gen-1-' || md5(jobs.id::text), 'succeeded', 200, 120, 40, 30, 0, false,
    (random() * 1000000)::bigint / 1e12, 'reported', 300, jobs.created_at
FROM jobs
"""


@dataclass(frozen=True)
class Download:
    kind: str
    rows: int
    bytes: int
    seconds: float
    total_usd: Decimal


@dataclass(frozen=True)
class Run:
    attempts: int
    baseline_mib: float
    peak_mib: float
    cpu_s: float
    downloads: list[Download]
    usage_usd: Decimal


def _download(
    http: httpx.Client, url: str, headers: dict[str, str], kind: str
) -> Download:
    started = time.perf_counter()
    size, rows, total = 0, 0, Decimal(0)
    cost_at: int | None = None
    params = {"month": MONTH, "format": kind}
    with http.stream(
        "GET", f"{url}/v1/usage/export", params=params, headers=headers
    ) as answer:
        if answer.status_code != 200:
            raise SystemExit(
                f"export failed: {answer.status_code} {answer.read()[:300]!r}"
            )
        for line in answer.iter_lines():
            size += len(line) + 1
            if kind == "csv":
                cells = line.split(",")
                if cost_at is None:
                    cost_at = cells.index("cost_usd")
                    continue
                total += Decimal(cells[cost_at])
            else:
                total += Decimal(line.split('"cost_usd":"', 1)[1].split('"', 1)[0])
            rows += 1
        header_total = Decimal(answer.headers["x-helixq-total-cost-usd"])
    if header_total != total:
        raise SystemExit(f"{kind}: rows sum to {total}, the header says {header_total}")
    return Download(kind, rows, size, time.perf_counter() - started, total)


def _run(attempts: int) -> Run:
    database_url = fresh_database(os.environ["DATABASE_URL"], DATABASE)
    redis_url = redis_database(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), REDIS_DB
    )
    redis.Redis.from_url(redis_url).flushdb()
    slug, key = bench_tenant(database_url)
    with psycopg.connect(database_url) as connection:
        connection.execute(_FILL, {"slug": slug, "count": attempts})
        connection.execute("ANALYZE jobs; ANALYZE attempts")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HELIXQ_SEED_TENANTS": "false",
        "HELIXQ_LOG_LEVEL": "WARNING",
    }
    headers = {"Authorization": f"Bearer {key}"}
    with api_process(env) as (url, pid), httpx.Client(timeout=600) as http:
        baseline = rss_mib(pid)
        cpu_before = tree_cpu_s(pid)
        downloads = [_download(http, url, headers, kind) for kind in ("csv", "jsonl")]
        cpu_s = tree_cpu_s(pid) - cpu_before
        peak = peak_rss_mib(pid)
        usage = http.get(
            f"{url}/v1/usage",
            params={"from": f"{MONTH}-01", "to": f"{MONTH}-30", "group_by": ""},
            headers=headers,
        ).json()
    return Run(
        attempts, baseline, peak, cpu_s, downloads, Decimal(usage["totals"]["cost_usd"])
    )


def _report(run: Run) -> None:
    print(f"statement of {run.attempts:,} attempts ({MONTH}):")
    for download in run.downloads:
        print(
            f"  {download.kind}: {download.rows:,} rows, {download.bytes / 1e6:.1f} MB"
            f" in {download.seconds:.2f} s = {download.rows / download.seconds:,.0f}"
            f" rows/s; rows sum to ${download.total_usd}"
        )
    rows = sum(d.rows for d in run.downloads)
    print(
        f"  API RSS: {run.baseline_mib:.0f} MiB before, peak {run.peak_mib:.0f} MiB"
        f" (+{run.peak_mib - run.baseline_mib:.0f} MiB); API CPU"
        f" {run.cpu_s:.2f} s = {run.cpu_s / rows * 1e6:.1f} µs a row"
    )
    print(f"  GET /v1/usage for the month: ${run.usage_usd}")
    if any(d.total_usd != run.usage_usd for d in run.downloads):
        raise SystemExit("a statement's total differs from /v1/usage")
    if any(d.rows != run.attempts for d in run.downloads):
        raise SystemExit("a statement misses rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attempts", type=int, default=100_000)
    attempts = parser.parse_args().attempts
    small, large = _run(attempts // 10), _run(attempts)
    _report(small)
    _report(large)
    growth = (large.peak_mib - large.baseline_mib) - (
        small.peak_mib - small.baseline_mib
    )
    print(
        f"  peak growth from {small.attempts:,} to {large.attempts:,} attempts:"
        f" {growth:+.0f} MiB"
    )


if __name__ == "__main__":
    main()
