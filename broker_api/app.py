"""The FastAPI application: `uvicorn broker_api.app:create_app --factory`."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from broker_api.admin.allowed_models_routes import router as admin_models_router
from broker_api.admin.key_routes import router as admin_keys_router
from broker_api.admin.limits_routes import router as admin_limits_router
from broker_api.admin.openrouter_key_routes import router as admin_openrouter_key_router
from broker_api.admin.routes import router as admin_router
from broker_api.admin.routing_routes import router as admin_routing_router
from broker_api.api_docs import router as api_docs_router
from broker_api.audit.routes import router as audit_router
from broker_api.auth_throttle import AuthThrottle
from broker_api.batches.routes import router as batches_router
from broker_api.body_limit import BodyLimitMiddleware
from broker_api.catalog_ids import CatalogIds
from broker_api.chat.routes import router as chat_router
from broker_api.dashboard.routes import router as dashboard_router
from broker_api.db_pool import open_pool
from broker_api.discount.routes import router as discount_router
from broker_api.embeddings.routes import router as embeddings_router
from broker_api.enqueue import CeleryEnqueuer, Enqueuer
from broker_api.errors import install_error_handlers
from broker_api.files.routes import router as files_router
from broker_api.files.upload import MAX_FORM_OVERHEAD_BYTES
from broker_api.health import router as health_router
from broker_api.hot_path import HotPath
from broker_api.jobs.routes import router as jobs_router
from broker_api.jobs.writer import JobWriter
from broker_api.json_guard import JsonGuardMiddleware
from broker_api.key_cache import KeyCache
from broker_api.keys.routes import router as keys_router
from broker_api.limits.routes import router as limits_router
from broker_api.log_context import LogContextMiddleware
from broker_api.metrics.routes import router as metrics_router
from broker_api.models.routes import router as models_router
from broker_api.notices import Notices
from broker_api.reconciliation.routes import router as reconciliation_router
from broker_api.settings import ApiSettings
from broker_api.stats.performance_routes import router as performance_stats_router
from broker_api.stats.routes import router as stats_router
from broker_api.usage.routes import router as usage_router
from broker_api.waiters import JobWaiters
from broker_api.webhooks.routes import router as webhooks_router
from shared.db.session import make_async_engine, make_async_sessions
from shared.logging_setup import LoggingSettings, configure_logging
from shared.object_store import ObjectStore
from shared.redis_keys import JOBS_FINISHED_CHANNEL, KEYS_CHANGED_CHANNEL
from shared.redis_servers import async_redis_client
from shared.settings import TenantSeedSettings, load_settings
from shared.tenancy import upsert_tenant_seeds

logger = logging.getLogger(__name__)


def create_app(
    settings: ApiSettings | None = None, *, enqueuer: Enqueuer | None = None
) -> FastAPI:
    """Build the app; tests pass their own settings and a fake enqueuer."""
    settings = settings or load_settings(ApiSettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_async_engine(settings)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = make_async_sessions(engine)
        app.state.pool = await open_pool(settings)
        app.state.job_writer = JobWriter(app.state.pool)
        app.state.redis = async_redis_client(
            settings.redis_url, max_connections=settings.helixq_api_redis_connections
        )
        # Typed, so that the checker holds CeleryEnqueuer to the Protocol the
        # routes call (app.state itself is untyped).
        publisher: Enqueuer = enqueuer or CeleryEnqueuer(settings.redis_url)
        app.state.enqueuer = publisher
        app.state.auth_throttle = AuthThrottle(
            app.state.redis, max_failures=settings.helixq_auth_failures_per_minute
        )
        app.state.catalog_ids = CatalogIds()
        app.state.object_store = ObjectStore.of(settings)
        app.state.waiters = waiters = JobWaiters()
        app.state.key_cache = key_cache = KeyCache(settings.helixq_auth_cache_s)
        notices = Notices(
            app.state.redis,
            {
                JOBS_FINISHED_CHANNEL: waiters.notify,
                KEYS_CHANGED_CHANNEL: lambda _: key_cache.forget_all(),
            },
            on_subscribed=lambda: _after_gap(waiters, key_cache),
        )
        notices.start()
        if settings.helixq_seed_tenants:
            await _seed_tenants(app)
        try:
            yield
        finally:
            await notices.stop()
            await app.state.enqueuer.close()
            await app.state.redis.aclose()
            await app.state.pool.close()
            await engine.dispose()

    app = FastAPI(
        title="helixq",
        summary="A durable job broker in front of OpenRouter.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by api_docs_router, without a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    app.include_router(api_docs_router)
    app.include_router(health_router)
    app.include_router(jobs_router)
    app.include_router(chat_router)
    app.include_router(embeddings_router)
    app.include_router(batches_router)
    app.include_router(files_router)
    app.include_router(discount_router)
    app.include_router(webhooks_router)
    app.include_router(models_router)
    app.include_router(stats_router)
    app.include_router(admin_router)
    app.include_router(admin_keys_router)
    app.include_router(admin_models_router)
    app.include_router(keys_router)
    app.include_router(audit_router)
    app.include_router(admin_routing_router)
    app.include_router(limits_router)
    app.include_router(admin_limits_router)
    app.include_router(admin_openrouter_key_router)
    app.include_router(dashboard_router)
    app.include_router(usage_router)
    app.include_router(reconciliation_router)
    app.include_router(performance_stats_router)
    app.include_router(metrics_router)
    # Added first, so it runs inside the size limit and never buffers an oversize body.
    app.add_middleware(JsonGuardMiddleware, openapi=app.openapi)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.helixq_max_body_bytes,
        max_bytes_by_path={
            "/v1/batches": settings.helixq_max_batch_bytes,
            "/v1/files": settings.helixq_max_file_bytes + MAX_FORM_OVERHEAD_BYTES,
        },
    )
    app.add_middleware(LogContextMiddleware)  # every line is tagged
    # Outermost: the requests it answers pass through nothing else of ours.
    app.add_middleware(HotPath, max_body_bytes=settings.helixq_max_body_bytes)
    return app


def create_served_app() -> FastAPI:
    """The app `helixq api` serves, built in each of its processes: uvicorn starts
    its worker processes afresh, so each configures its own logging (format,
    redaction) here."""
    configure_logging(load_settings(LoggingSettings))
    app = create_app()
    # What start-up made (modules, routes, schemas) lives as long as the process:
    # frozen, the collector stops walking it, and a full collection no longer
    # stalls every request in flight for a noticeable fraction of a second.
    gc.collect()
    gc.freeze()
    return app


async def _seed_tenants(app: FastAPI) -> None:
    """Upsert the tenants named in the environment (OPENROUTER_TENANT_<N>_*)."""
    seeds = load_settings(TenantSeedSettings).tenants
    if not seeds:
        return
    async with app.state.sessions() as session, session.begin():
        tenants = await session.run_sync(
            partial(upsert_tenant_seeds, box=app.state.settings.box()), seeds
        )
    logger.info("tenants from the environment: %s", ", ".join(t.slug for t in tenants))


def _after_gap(waiters: JobWaiters, key_cache: KeyCache) -> None:
    """Notices may have been missed while unsubscribed: re-read what they guard."""
    waiters.notify_all()
    key_cache.forget_all()
