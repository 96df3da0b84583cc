"""WorkerContext: the resources one worker process shares across its threads.

Built lazily on first use, after any fork, and closed on worker shutdown. The hot
path (workers.jobs.completion) runs on the event loop with the async resources (`db`,
`claims`, `redis_async`, `redis_batch`, `openrouter`); the sync engine serves the
sweeper, the tenant-queue refresh, webhook deliveries, the batch sweep and other
low-rate tasks.
"""

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeAlias

import httpx
import redis
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from shared.db.session import make_sessions, psycopg_url
from workers.jobs.claims import Claims
from workers.limits.client import CompletionClient, RateLimitedClient
from workers.limits.gate import LimitsGate
from workers.limits.wiring import build_gate
from workers.maintenance.catalog_sync import CatalogCache
from workers.openrouter.client import ClientConfig, OpenRouterClient
from workers.routing.planner import RoutePlanner
from workers.runtime.event_loop import EventLoopThread
from workers.runtime.inflight import InflightJobs
from workers.runtime.intake import WIDE_INTAKE, Intake
from workers.runtime.job_sender import JobSender
from workers.runtime.redis_batching import RedisBatcher
from workers.runtime.settings import WorkerSettings, check_worker_settings
from workers.webhooks.sender import DeliverySender

logger = logging.getLogger(__name__)

ConnectionPool: TypeAlias = AsyncConnectionPool[AsyncConnection[TupleRow]]

# With OPENROUTER_ENABLED=false no call is made, so no key is needed.
_NO_KEY = SecretStr("")

# Beyond the in-flight jobs: connections being closed or re-opened.
EXTRA_HTTP_CONNECTIONS = 16
POOL_RECYCLE_S = 1800
POOL_OPEN_TIMEOUT_S = 30.0


@dataclass
class WorkerContext:
    """Per-process database pools, Redis clients, OpenRouter client and loop."""

    settings: WorkerSettings
    engine: Engine
    sessions: sessionmaker[Session]  # autocommit: each statement on its own
    transactions: sessionmaker[Session]  # `begin()` is a real transaction
    redis: redis.Redis
    loop: EventLoopThread
    db: ConnectionPool  # autocommit connections for workers.jobs.transitions, on `loop`
    claims: Claims  # on `loop`
    redis_async: AsyncRedis  # on `loop`: the budget ledger, and the batcher's client
    redis_batch: RedisBatcher  # the jobs' Redis commands, sent together, on `loop`
    openrouter: CompletionClient  # on `loop`, behind the rate limits
    limits: LimitsGate  # on `loop` (workers.limits)
    sender: JobSender  # re-publishes retries (blocking: run it in a thread)
    deliveries: DeliverySender  # sends webhook deliveries (blocking, too)
    inflight: InflightJobs  # on `loop`
    intake: Intake  # how many messages the consumer holds
    routes: RoutePlanner  # `plan` blocks (Postgres, Redis): off the loop
    rng: random.Random = field(default_factory=random.Random)

    def close(self) -> None:
        """Let the jobs in flight end (up to one call timeout; the messages not
        yet started are dropped), then release connections and stop the event
        loop thread."""
        still_running = self.loop.run(
            self.inflight.stop(self.settings.openrouter_timeout)
        )
        if still_running:
            logger.warning(
                "%d jobs still in flight at shutdown were stopped: their leases will "
                "expire and the sweeper re-sends them",
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


def build_context(
    settings: WorkerSettings,
    *,
    sender: JobSender,
    deliveries: DeliverySender,
    transport: httpx.AsyncBaseTransport | None = None,
) -> WorkerContext:
    """A context for `settings`; `transport` replaces the network in tests."""
    check_worker_settings(settings)
    loop = EventLoopThread()
    engine = _autocommit_engine(settings)
    sessions = make_sessions(engine)
    db = loop.run(_open_pool(settings))
    redis_async = AsyncRedis.from_url(settings.redis_url)
    redis_batch = RedisBatcher(redis_async)
    intake = Intake(
        extra=(WIDE_INTAKE - 1) * settings.helixq_worker_concurrency,
        quiet_s=settings.helixq_limit_horizon_s,
    )
    limits = build_gate(
        settings,
        redis=redis_async,
        batcher=redis_batch,
        db=db,
        sessions=sessions,
        intake=intake,
    )
    client = OpenRouterClient(_client_config(settings), transport=transport)
    sync_redis = redis.Redis.from_url(settings.redis_url)
    rng = random.Random()
    return WorkerContext(
        settings=settings,
        engine=engine,
        sessions=sessions,
        # Same pool; the isolation level is reset when a connection goes back.
        transactions=make_sessions(
            engine.execution_options(isolation_level="READ COMMITTED")
        ),
        redis=sync_redis,
        loop=loop,
        db=db,
        claims=Claims(db, lease_s=settings.helixq_job_lease_s),
        redis_async=redis_async,
        redis_batch=redis_batch,
        openrouter=RateLimitedClient(client, limits),
        limits=limits,
        sender=sender,
        deliveries=deliveries,
        inflight=InflightJobs(settings.helixq_worker_inflight),
        intake=intake,
        routes=RoutePlanner(
            catalog=CatalogCache(sessions),
            client=sync_redis,
            settings=settings,
            rng=rng,
        ),
        rng=rng,
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
        kwargs={"autocommit": True},
        max_lifetime=POOL_RECYCLE_S,
        open=False,
        name="helixq-worker",
    )
    await pool.open(wait=True, timeout=POOL_OPEN_TIMEOUT_S)
    return pool


def _autocommit_engine(settings: WorkerSettings) -> Engine:
    # The sync engine's users (sweeper, tenant refresh) run single statements or
    # short reads: autocommit, and no pre-ping (a dropped connection fails one
    # periodic run, and the pool replaces the connection).
    return create_engine(
        psycopg_url(settings.database_url),
        pool_size=min(settings.database_pool_size, settings.helixq_worker_concurrency),
        max_overflow=settings.database_max_overflow,
        pool_recycle=POOL_RECYCLE_S,
        isolation_level="AUTOCOMMIT",
    )


def libpq_url(database_url: str) -> str:
    """The URL as libpq takes it: `postgresql+psycopg://` loses its driver part."""
    scheme, separator, rest = database_url.partition("://")
    return f"{scheme.split('+', 1)[0]}{separator}{rest}"


class ContextProvider:
    """Builds the process's WorkerContext once, on first use from any thread."""

    def __init__(self, factory: Callable[[], WorkerContext]) -> None:
        self._factory = factory
        self._context: WorkerContext | None = None
        self._lock = threading.Lock()

    def get(self) -> WorkerContext:
        """The context, built on the first call."""
        context = self._context
        if context is not None:
            return context
        with self._lock:
            if self._context is None:
                self._context = self._factory()
            return self._context

    def configure(self, factory: Callable[[], WorkerContext]) -> None:
        """Use `factory` for the next build (the entry point passes its settings)."""
        with self._lock:
            self._factory = factory

    def close(self) -> None:
        """Close the context if one was built; the next `get` builds a new one."""
        with self._lock:
            context, self._context = self._context, None
        if context is not None:
            context.close()
            logger.debug("worker context closed")


def provider_of(app: object) -> ContextProvider:
    """The ContextProvider the Celery app carries (see workers.runtime.celery_app)."""
    provider = getattr(app, "worker_contexts", None)
    if not isinstance(provider, ContextProvider):
        raise TypeError("this Celery app carries no worker_contexts")
    return provider
