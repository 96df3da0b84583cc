"""Batch ingest: `python -m bench.batch_ingest`.

Uploads a 50,000-line JSONL batch to a real API process (no worker running) and
measures requests/s from the start of the upload until every row is committed and
every message is in the tenant's queue, and the API process's peak memory (VmHWM).
Uses DATABASE_URL's server (database helixq_bench_ingest, recreated) and REDIS_URL's
server (db index 1, flushed).
"""

import argparse
import base64
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from helixq.processes import Supervisor, answers, free_port
from helixq.scratch_services import fresh_database, redis_database
from shared.db.session import psycopg_url
from shared.queues import tenant_queue
from shared.task_messages import Priority, redis_list_key
from shared.tenancy import create_api_key, create_tenant

DATABASE = "helixq_bench_ingest"
REDIS_DB = 1


def bench_tenant(database_url: str) -> tuple[str, str]:
    engine = create_engine(psycopg_url(database_url))
    with Session(engine) as session, session.begin():
        tenant = create_tenant(session, "bench-ingest")
        key = create_api_key(session, tenant).key
        slug = tenant.slug
    engine.dispose()
    return slug, key


def write_jsonl(path: Path, lines: int) -> int:
    with path.open("w") as out:
        for n in range(lines):
            body = {
                "model": "openai/gpt-4o-mini",
                "messages": [
                    {"role": "user", "content": f"Summarise item {n} in a line."}
                ],
                "max_tokens": 64,
            }
            line = {
                "custom_id": f"item-{n}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": body,
            }
            out.write(json.dumps(line) + "\n")
    return path.stat().st_size


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def api_process(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """`helixq api` on a free port, its output discarded; yields its URL and pid."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    helixq = Path(sys.executable).parent / "helixq"
    supervisor = Supervisor()
    try:
        pid = supervisor.start(
            "api", [str(helixq), "api", "--port", str(port)], env, log=Path(os.devnull)
        )
        supervisor.wait_until_ready(
            lambda: answers(f"{url}/healthz"), timeout_s=30, what="the API"
        )
        yield url, pid
    finally:
        supervisor.stop_all(grace_s=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=50_000)
    lines = parser.parse_args().lines
    database_url = fresh_database(os.environ["DATABASE_URL"], DATABASE)
    redis_url = redis_database(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), REDIS_DB
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
    with api_process(env) as (api_url, api_pid):
        baseline = rss_mib(api_pid)
        started = time.perf_counter()
        with path.open("rb") as body:
            response = httpx.post(
                f"{api_url}/v1/batches",
                content=body,
                timeout=300,
                headers={
                    "Authorization": f"Bearer {key}",
                    "Content-Type": "application/jsonl",
                },
            )
        elapsed = time.perf_counter() - started
        peak = peak_rss_mib(api_pid)
    if response.status_code != 201:
        raise SystemExit(f"upload failed: {response.status_code} {response.text[:500]}")
    queued = queued_jobs(
        client, redis_list_key(tenant_queue(slug), int(Priority.BATCH))
    )
    print(f"batch ingest: {lines} lines, {size / 1e6:.1f} MB")
    print(
        f"  upload → all rows committed and queued: {elapsed:.2f} s "
        f"= {lines / elapsed:,.0f} requests/s (target ≥ 5,000/s: "
        f"{lines / elapsed / 5000:.2f} x the target)"
    )
    print(f"  jobs in tenant.{slug}'s messages: {queued} (expected {lines})")
    print(
        f"  API RSS: {baseline:.0f} MiB before, peak {peak:.0f} MiB "
        f"(+{peak - baseline:.0f} MiB while ingesting)"
    )
    if queued != lines:
        raise SystemExit("not every row was queued")


def queued_jobs(client: redis.Redis, key: str) -> int:
    """Job ids carried by the messages in `key` (each message carries a group)."""
    return sum(
        len(json.loads(base64.b64decode(json.loads(message)["body"]))[0])
        for message in client.lrange(key, 0, -1)
    )


if __name__ == "__main__":
    main()
