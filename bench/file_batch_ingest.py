"""OpenAI's batch flow, ingest side: `python -m bench.file_batch_ingest`.

Uploads a JSONL file through `POST /v1/files` (multipart, streamed from disk) to a
real API process with no worker running, then creates a batch from it with
`POST /v1/batches {input_file_id, ...}`, and measures the upload rate, the time
until every job is queued, and the API process's peak memory (VmHWM). It does so
for a file a fifth of the size as well, in a fresh API process, so that the
memory figures show whether the peak grows with the file. Uses DATABASE_URL's
server (database helixq_bench_file_ingest, recreated) and REDIS_URL's server (db
index 1, or --redis-db, flushed). The API process's CPU time (from /proc) is read
around the batch's creation and given per job.
"""

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from bench.batch_ingest import (
    api_process,
    bench_tenant,
    peak_rss_mib,
    queued_jobs,
    rss_mib,
    write_jsonl,
)
from bench.proc_cpu import tree_cpu_s
from helixq.scratch_services import fresh_database, redis_database
from shared.queues import tenant_queue
from shared.task_messages import Priority, redis_list_key

DATABASE = "helixq_bench_file_ingest"
REDIS_DB = 1


@dataclass(frozen=True)
class Run:
    lines: int
    size_bytes: int
    upload_s: float
    batch_s: float
    queued: int
    baseline_mib: float
    peak_mib: float
    batch_cpu_s: float  # the API's, while the batch was made from the file


def _run(lines: int, redis_db: int) -> Run:
    database_url = fresh_database(os.environ["DATABASE_URL"], DATABASE)
    redis_url = redis_database(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), redis_db
    )
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    slug, key = bench_tenant(database_url)
    path = Path(tempfile.mkdtemp()) / "batch.jsonl"
    size = write_jsonl(path, lines)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HELIXQ_SEED_TENANTS": "false",
        "HELIXQ_LOG_LEVEL": "WARNING",
    }
    headers = {"Authorization": f"Bearer {key}"}
    with api_process(env) as (api_url, api_pid), httpx.Client(timeout=600) as http:
        baseline = rss_mib(api_pid)
        started = time.perf_counter()
        with path.open("rb") as body:
            uploaded = http.post(
                f"{api_url}/v1/files",
                data={"purpose": "batch"},
                files={"file": ("batch.jsonl", body, "application/jsonl")},
                headers=headers,
            )
        uploaded_at = time.perf_counter()
        if uploaded.status_code != 200:
            raise SystemExit(f"upload failed: {uploaded.status_code} {uploaded.text}")
        cpu_before = tree_cpu_s(api_pid)
        batch = http.post(
            f"{api_url}/v1/batches",
            json={
                "input_file_id": uploaded.json()["id"],
                "endpoint": "/v1/chat/completions",
                "completion_window": "24h",
            },
            headers=headers,
        )
        created_at = time.perf_counter()
        batch_cpu_s = tree_cpu_s(api_pid) - cpu_before
        peak = peak_rss_mib(api_pid)
    if batch.status_code != 201 or batch.json()["status"] != "in_progress":
        raise SystemExit(f"batch failed: {batch.status_code} {batch.text[:500]}")
    queued = queued_jobs(
        client, redis_list_key(tenant_queue(slug), int(Priority.BATCH))
    )
    return Run(
        lines,
        size,
        uploaded_at - started,
        created_at - uploaded_at,
        queued,
        baseline,
        peak,
        batch_cpu_s,
    )


def _report(run: Run) -> None:
    total_s = run.upload_s + run.batch_s
    print(f"file batch: {run.lines} lines, {run.size_bytes / 1e6:.1f} MB")
    print(
        f"  upload: {run.upload_s:.2f} s = {run.size_bytes / 1e6 / run.upload_s:.1f}"
        " MB/s"
    )
    print(
        f"  batch from the file → every job queued: {run.batch_s:.2f} s "
        f"= {run.lines / run.batch_s:,.0f} requests/s; "
        f"upload start → every job queued: {total_s:.2f} s"
    )
    print(
        f"  API CPU making the batch: {run.batch_cpu_s:.2f} s = "
        f"{run.batch_cpu_s / run.lines * 1e6:.0f} µs per job"
    )
    print(f"  jobs in the tenant's messages: {run.queued} (expected {run.lines})")
    print(
        f"  API RSS: {run.baseline_mib:.0f} MiB before, peak {run.peak_mib:.0f} MiB "
        f"(+{run.peak_mib - run.baseline_mib:.0f} MiB)"
    )
    if run.queued != run.lines:
        raise SystemExit("not every line was queued")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--redis-db", type=int, default=REDIS_DB)
    args = parser.parse_args()
    lines = args.lines
    small, large = _run(lines // 5, args.redis_db), _run(lines, args.redis_db)
    _report(small)
    _report(large)
    growth = (large.peak_mib - large.baseline_mib) - (
        small.peak_mib - small.baseline_mib
    )
    print(
        f"  peak growth from {small.size_bytes / 1e6:.1f} MB to "
        f"{large.size_bytes / 1e6:.1f} MB: {growth:+.0f} MiB"
    )


if __name__ == "__main__":
    main()
