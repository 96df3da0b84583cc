"""What the rate-limit and fairness benchmarks share: their own database and
Redis db, a simulator, a worker node under given limits, and job publishing."""

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import psycopg
import redis
from celery import Celery

from bench.processes import simulator as simulator_process
from bench.processes import worker_node as processes_worker_node
from helixq.scratch_services import fresh_database, redis_database
from shared.queues import TaskName, tenant_queue

API_KEY = "sk-or-v1-bench"
MODEL = "openai/gpt-4o-mini"
BODY = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "Hi."}],
    "max_tokens": 8,
}


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str


def prepare_services(database: str, redis_db: int) -> Services:
    """A fresh database `database` on DATABASE_URL's server, and Redis db
    `redis_db` on REDIS_URL's server, flushed."""
    database_url = fresh_database(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        database,
    )
    redis_url = redis_database(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), redis_db
    )
    redis.Redis.from_url(redis_url).flushdb()
    return Services(database_url, redis_url)


@contextmanager
def simulator(latency_ms: int) -> Iterator[str]:
    """A simulator subprocess answering after `latency_ms`; yields its base URL."""
    with simulator_process(HELIXQ_SIM_LATENCY_MS=str(latency_ms)) as base_url:
        yield base_url


def worker_node(
    base_url: str, services: Services, *, processes: int, env: dict[str, str]
) -> AbstractContextManager[object]:
    """A worker node (bench.processes.worker_node) against the simulator, with
    extra `env`."""
    return processes_worker_node(
        {
            "DATABASE_URL": services.database_url,
            "REDIS_URL": services.redis_url,
            "OPENROUTER_API_KEY": API_KEY,
            "OPENROUTER_BASE_URL": f"{base_url}/api/v1",
            "HELIXQ_WORKER_INFLIGHT": "50",
            # Postgres allows 100 connections, shared with whatever else runs here.
            "DATABASE_POOL_SIZE": "2",
            "DATABASE_MAX_OVERFLOW": "2",
            **env,
        },
        processes=processes,
    )


def add_tenant(
    services: Services, slug: str, limits: dict[str, Any] | None = None
) -> uuid.UUID:
    """Insert a tenant (before the workers start, so they consume its queue)."""
    tenant_id = uuid.uuid4()
    with psycopg.connect(services.database_url) as connection:
        connection.execute(
            "INSERT INTO tenants (id, slug, name, limits) VALUES (%s, %s, %s, %s)",
            (tenant_id, slug, slug, json.dumps(limits) if limits else None),
        )
    return tenant_id


class Publisher:
    """Commits job rows and publishes them the way the API does."""

    def __init__(self, services: Services) -> None:
        self._connection = psycopg.connect(services.database_url, autocommit=True)
        self._celery = Celery(broker=services.redis_url)
        self._celery.conf.update(task_serializer="json", accept_content=["json"])
        self._request = json.dumps(BODY)

    def submit(self, tenant_id: uuid.UUID, slug: str, count: int) -> None:
        """Insert `count` queued jobs in one statement, then publish each."""
        job_ids = [uuid.uuid4() for _ in range(count)]
        with self._connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO jobs (id, tenant_id, status, request)"
                " VALUES (%s, %s, 'queued', %s)",
                [(job_id, tenant_id, self._request) for job_id in job_ids],
            )
        with self._celery.producer_or_acquire() as producer:
            for job_id in job_ids:
                self._celery.send_task(
                    TaskName.RUN_COMPLETION.value,
                    args=[str(job_id)],
                    task_id=str(job_id),
                    queue=tenant_queue(slug),
                    producer=producer,
                )

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


def sim_calls(base_url: str) -> list[dict[str, Any]]:
    """Every call the simulator logged (time, model, status), oldest first."""

    async def fetch() -> list[dict[str, Any]]:
        url = f"{base_url}/_sim/calls?detail=1"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return list((await response.json())["calls"])

    return asyncio.run(fetch())
