"""What one worker process holds, built lazily on first use (after any fork) and
closed on worker shutdown: two I/O stacks, each for one kind of work.

The job's path runs on the process's event loop with asyncio clients only (the
Postgres pool, the Redis client and its batcher, the OpenRouter transport), all
reached through `completions` (workers.jobs.completion). The periodic tasks
(sweeps, webhook deliveries, catalog sync, upstream check, tenant refresh,
heartbeat) run on Celery's threads with blocking clients: `sessions` and `redis`.
Tasks and bootsteps hand each function the few of these it uses.
"""

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import redis
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from shared.db.session import (
    connect_options,
    libpq_url,
    make_sessions,
    psycopg_url,
)
from shared.object_store import ObjectStore
from shared.redis_servers import async_redis_client, redis_client
from workers.jobs.claims import Claims
from workers.jobs.completion import Completions
from workers.jobs.endings import JobEndings, RetryPolicy
from workers.jobs.live_streams import JobStreams
from workers.jobs.streamed_calls import StreamedCalls, StreamingConfig
from workers.jobs.transitions import ConnectionPool
from workers.limits.client import CompletionClient, RateLimitedClient
from workers.limits.wiring import build_gate
from workers.openrouter.client import ClientConfig, OpenRouterClient
from workers.routing.catalog import CatalogCache
from workers.routing.planner import RoutePlanner
from workers.runtime.event_loop import EventLoopThread
from workers.runtime.inflight import InflightJobs
from workers.runtime.intake import WIDE_INTAKE, Intake
from workers.runtime.job_sender import JobSender
from workers.runtime.publishing import RedisTaskPublisher, TaskPublisher
from workers.runtime.redis_batching import RedisBatcher
from workers.runtime.settings import (
    WorkerSettings,
    check_worker_settings,
    stop_grace_s,
)
from workers.webhooks.sender import DeliverySender

logger = logging.getLogger(__name__)

# With OPENROUTER_ENABLED=false no call is made, so no key is needed.
_NO_KEY = SecretStr("")

# Beyond the in-flight jobs: connections being closed or re-opened.
EXTRA_HTTP_CONNECTIONS = 16
POOL_RECYCLE_S = 1800
POOL_OPEN_TIMEOUT_S = 30.0


@dataclass
class WorkerProcess:
    """The worker process's clients, its event loop and its completion path."""

    settings: WorkerSettings
    loop: EventLoopThread
    # The periodic tasks' stack (blocking, on Celery's threads).
    engine: Engine
    sessions: sessionmaker[Session]  # `begin()` is a real transaction
    redis: redis.Redis
    sender: JobSender  # publishes `run_completion` (the sweeper's re-sends)
    deliveries: DeliverySender  # publishes `deliver_webhook` (sweeps, retries)
    # The job's stack (asyncio, on `loop`).
    db: ConnectionPool  # autocommit connections (workers.jobs.transitions)
    redis_async: AsyncRedis
    redis_batch: RedisBatcher  # the jobs' Redis commands, sent together
    openrouter: CompletionClient  # behind the rate limits
    intake: Intake  # how many messages the consumer holds
    completions: Completions
    # Uploaded files' bytes when HELIXQ_FILE_STORAGE=s3 (the expired-file sweep).
    object_store: ObjectStore | None = None

    def close(self) -> None:
        """Let the jobs in flight end within the stop grace (the messages not yet
        started are dropped; the jobs still running after it are cut off and
        handed back), then release connections and stop the event loop thread."""
        inflight = self.completions.inflight
        still_running = self.loop.run(inflight.stop(stop_grace_s(self.settings)))
        if still_running:
            logger.warning(
                "%d jobs still in flight after the stop grace were cut off: their "
                "calls are marked interrupted and the jobs queued again",
                still_running,
            )
        self.loop.run(self._close_async())
        self.loop.stop()
        self.redis.close()
        self.engine.dispose()

    async def _close_async(self) -> None:
        await self.openrouter.aclose()
        await self.redis_batch.drain()
        await self.redis_async.aclose()
        await self.db.close()


def build_process(
    settings: WorkerSettings,
    *,
    sender: JobSender,
    deliveries: DeliverySender,
    transport: httpx.AsyncBaseTransport | None = None,
    publisher: TaskPublisher | None = None,
) -> WorkerProcess:
    """A worker process's resources for `settings`; `transport` replaces the
    network in tests, `publisher` the event loop's publishing."""
    check_worker_settings(settings)
    loop = EventLoopThread()
    engine = _engine(settings)
    db = loop.run(_open_pool(settings))
    redis_async = async_redis_client(settings.redis_url)
    redis_batch = RedisBatcher(redis_async)
    intake = Intake(
        extra=(WIDE_INTAKE - 1) * settings.helixq_worker_concurrency,
        quiet_s=settings.helixq_limit_horizon_s,
    )
    catalog = CatalogCache.on(db)
    openrouter = OpenRouterClient(_client_config(settings), transport=transport)
    limits = build_gate(
        settings,
        redis=redis_async,
        batcher=redis_batch,
        db=db,
        catalog=catalog,
        intake=intake,
        global_key=openrouter.default_key,
    )
    client = RateLimitedClient(openrouter, limits)
    rng = random.Random()
    endings = JobEndings(
        db=db,
        lease_s=settings.helixq_job_lease_s,
        retries=RetryPolicy(
            max_retries=settings.openrouter_max_retries,
            base_s=settings.helixq_retry_base_delay_s,
            cap_s=settings.helixq_retry_max_delay_s,
            rng=rng,
        ),
        publisher=publisher or RedisTaskPublisher(redis_batch),
        redis=redis_batch,
    )
    completions = Completions(
        claims=Claims(db, lease_s=settings.helixq_job_lease_s),
        inflight=InflightJobs(settings.helixq_worker_inflight),
        routes=RoutePlanner(
            catalog=catalog, redis=redis_batch, settings=settings, rng=rng
        ),
        limits=limits,
        client=client,
        endings=endings,
        redis=redis_batch,
        upstream_enabled=settings.openrouter_enabled,
        streamed=StreamedCalls(
            client=client,
            streams=JobStreams(redis_batch),
            config=StreamingConfig(
                first_token_timeout_s=settings.helixq_first_token_timeout_s
            ),
            catalog=catalog,
            generation_ids=endings.note_generation_id,
        ),
    )
    return WorkerProcess(
        settings=settings,
        loop=loop,
        engine=engine,
        sessions=make_sessions(engine),
        redis=redis_client(settings.redis_url),
        sender=sender,
        deliveries=deliveries,
        db=db,
        redis_async=redis_async,
        redis_batch=redis_batch,
        openrouter=client,
        intake=intake,
        completions=completions,
        object_store=ObjectStore.of(settings),
    )


def _client_config(settings: WorkerSettings) -> ClientConfig:
    return ClientConfig(
        base_url=settings.openrouter_base_url,
        api_key=settings.openrouter_api_key or _NO_KEY,
        timeout_s=settings.openrouter_timeout,
        max_connections=settings.helixq_worker_inflight + EXTRA_HTTP_CONNECTIONS,
        app_title=settings.openrouter_app_title,
        http_referer=settings.openrouter_http_referer,
    )


async def _open_pool(settings: WorkerSettings) -> ConnectionPool:
    # Autocommit: every hot-path write is one statement (workers.jobs.transitions),
    # so no BEGIN/COMMIT round trips. A job holds a connection only for one statement,
    # never across the call, so a small pool serves hundreds of jobs in flight.
    pool: ConnectionPool = AsyncConnectionPool(
        libpq_url(settings.database_url),
        min_size=settings.database_pool_size,
        max_size=settings.database_pool_size + settings.database_max_overflow,
        kwargs={"autocommit": True, **connect_options(settings)},
        max_lifetime=POOL_RECYCLE_S,
        open=False,
        name="helixq-worker",
    )
    await pool.open(wait=True, timeout=POOL_OPEN_TIMEOUT_S)
    return pool


def _engine(settings: WorkerSettings) -> Engine:
    # The periodic tasks' engine: short transactions, and no pre-ping (a dropped
    # connection fails one periodic run, and the pool replaces the connection).
    return create_engine(
        psycopg_url(settings.database_url),
        pool_size=min(settings.database_pool_size, settings.helixq_worker_concurrency),
        max_overflow=settings.database_max_overflow,
        pool_recycle=POOL_RECYCLE_S,
        isolation_level="READ COMMITTED",
        connect_args=connect_options(settings),
    )


class ProcessProvider:
    """Builds the process's WorkerProcess once, on first use from any thread."""

    def __init__(self, factory: Callable[[], WorkerProcess]) -> None:
        self._factory = factory
        self._process: WorkerProcess | None = None
        self._lock = threading.Lock()

    def get(self) -> WorkerProcess:
        """The process's resources, built on the first call."""
        process = self._process
        if process is not None:
            return process
        with self._lock:
            if self._process is None:
                self._process = self._factory()
            return self._process

    def configure(self, factory: Callable[[], WorkerProcess]) -> None:
        """Use `factory` for the next build (the entry point passes its settings)."""
        with self._lock:
            self._factory = factory

    def close(self) -> None:
        """Close the resources if they were built; the next `get` builds anew."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            process.close()
            logger.debug("worker process resources closed")


def provider_of(app: object) -> ProcessProvider:
    """The ProcessProvider the Celery app carries (see workers.runtime.celery_app)."""
    provider = getattr(app, "worker_process", None)
    if not isinstance(provider, ProcessProvider):
        raise TypeError("this Celery app carries no worker_process")
    return provider
