"""WorkerContext: the resources one worker process shares across its task threads.

Built lazily on first use, after any fork, and closed on worker shutdown.
"""

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import redis
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from shared.db.session import make_sessions, psycopg_url
from shared.settings import load_settings
from workers.event_loop import EventLoopThread
from workers.openrouter.client import ClientConfig, OpenRouterClient
from workers.settings import WorkerSettings, check_worker_settings

logger = logging.getLogger(__name__)

# With OPENROUTER_ENABLED=false no call is made, so no key is needed.
_NO_KEY = SecretStr("")

# Beyond the task threads: the sweeper, the tenant refresh and pool pre-pings.
EXTRA_HTTP_CONNECTIONS = 16
POOL_RECYCLE_S = 1800


@dataclass
class WorkerContext:
    """Per-process engine, sessions, Redis client and OpenRouter client."""

    settings: WorkerSettings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis.Redis
    openrouter: OpenRouterClient
    loop: EventLoopThread
    rng: random.Random = field(default_factory=random.Random)

    def close(self) -> None:
        """Release connections and stop the event loop thread."""
        self.openrouter.close()
        self.loop.stop()
        self.redis.close()
        self.engine.dispose()


def build_context(
    settings: WorkerSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> WorkerContext:
    """A context for `settings`; `transport` replaces the network in tests."""
    check_worker_settings(settings)
    # Transactions are short and never span a call, so a pool far smaller than the
    # thread count serves every thread (threads queue briefly for a connection).
    engine = _autocommit_engine(settings)
    loop = EventLoopThread()
    config = ClientConfig(
        base_url=settings.openrouter_base_url,
        api_key=settings.openrouter_api_key or _NO_KEY,
        timeout_s=settings.openrouter_timeout,
        max_connections=settings.helixq_worker_concurrency + EXTRA_HTTP_CONNECTIONS,
        app_title=settings.openrouter_app_title,
        http_referer=settings.openrouter_http_referer,
    )
    return WorkerContext(
        settings=settings,
        engine=engine,
        sessions=make_sessions(engine),
        redis=redis.Redis.from_url(settings.redis_url),
        openrouter=OpenRouterClient(config, loop, transport=transport),
        loop=loop,
    )


def _autocommit_engine(settings: WorkerSettings) -> Engine:
    # Every worker write is a single statement (workers.jobs_store), so autocommit
    # saves the BEGIN and COMMIT round trips; no pre-ping either (one more round
    # trip per checkout): a dropped connection fails one task, whose job the
    # sweeper re-sends, and the pool replaces the connection.
    return create_engine(
        psycopg_url(settings.database_url),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_recycle=POOL_RECYCLE_S,
        isolation_level="AUTOCOMMIT",
    )


class ContextProvider:
    """Builds the process's WorkerContext once, on first use from any thread."""

    def __init__(self, factory: Callable[[], WorkerContext] | None = None) -> None:
        self._factory = factory or _context_from_environment
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


def _context_from_environment() -> WorkerContext:
    return build_context(load_settings(WorkerSettings))


def provider_of(app: object) -> ContextProvider:
    """The ContextProvider the Celery app carries (see workers.celery_app)."""
    provider = getattr(app, "worker_contexts", None)
    if not isinstance(provider, ContextProvider):
        raise TypeError("this Celery app carries no worker_contexts")
    return provider
