"""Request-scoped dependencies: the DB session, the calling tenant, the admin guard.

Dependencies are coroutines even when they do not await: FastAPI runs a plain
function in a worker thread, a hop that costs more than what it returns.
"""

import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.auth_throttle import client_address, throttle_of
from broker_api.caller import Caller
from broker_api.catalog_ids import CatalogIds
from broker_api.db_pool import Pool
from broker_api.enqueue import Enqueuer
from broker_api.jobs.writer import JobWriter
from broker_api.key_access import check_scope, count_key_request
from broker_api.key_cache import KeyCache, StoredKey, is_expired
from broker_api.settings import ApiSettings
from broker_api.waiters import JobWaiters
from shared.api_keys import ALL_SCOPES, key_prefix, matches
from shared.audit import ADMIN, Actor
from shared.errors import Forbidden, Unauthenticated
from shared.logging_setup import bind_tenant
from shared.model_access import effective_allowed
from shared.object_store import ObjectStore

__all__ = ["Caller"]  # re-exported: routes and services take it from here

_bearer = HTTPBearer(auto_error=False)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_enqueuer(request: Request) -> Enqueuer:
    enqueuer: Enqueuer = request.app.state.enqueuer
    return enqueuer


async def get_catalog_ids(request: Request) -> frozenset[str]:
    """Listed model ids; empty before the first catalog sync (then all are accepted)."""
    cache: CatalogIds = request.app.state.catalog_ids
    return await cache.get(request.app.state.sessions)


CatalogIdsDep = Annotated[frozenset[str], Depends(get_catalog_ids)]


async def get_embedding_model_ids(request: Request) -> frozenset[str]:
    """Listed embedding model ids; empty before the first catalog sync."""
    cache: CatalogIds = request.app.state.catalog_ids
    return await cache.embedding_ids(request.app.state.sessions)


EmbeddingModelIdsDep = Annotated[frozenset[str], Depends(get_embedding_model_ids)]


async def get_object_store(request: Request) -> ObjectStore | None:
    """Where uploads go when HELIXQ_FILE_STORAGE=s3; None: Postgres."""
    objects: ObjectStore | None = request.app.state.object_store
    return objects


ObjectStoreDep = Annotated[ObjectStore | None, Depends(get_object_store)]


async def get_waiters(request: Request) -> JobWaiters:
    waiters: JobWaiters = request.app.state.waiters
    return waiters


IDEMPOTENCY_KEY_MAX_CHARS = 255
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX_CHARS,
        description="Repeat a request safely: same key and body, same answer (24 h).",
    ),
]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
WaitersDep = Annotated[JobWaiters, Depends(get_waiters)]
EnqueuerDep = Annotated[Enqueuer, Depends(get_enqueuer)]


async def get_pool(request: Request) -> Pool:
    pool: Pool = request.app.state.pool
    return pool


PoolDep = Annotated[Pool, Depends(get_pool)]


async def get_job_writer(request: Request) -> JobWriter:
    writer: JobWriter = request.app.state.job_writer
    return writer


JobWriterDep = Annotated[JobWriter, Depends(get_job_writer)]

_KEY_ROW = """
SELECT api_keys.key_hash, api_keys.revoked_at, api_keys.expires_at,
    api_keys.scopes, api_keys.allowed_models AS key_models,
    api_keys.requests_per_minute, api_keys.last_used_at,
    tenants.id, tenants.slug, tenants.default_model, tenants.limits,
    tenants.allowed_models AS tenant_models
FROM api_keys JOIN tenants ON tenants.id = api_keys.tenant_id
WHERE api_keys.prefix = %s
"""
# last_used_at is kept to the minute: one write a minute at most, not one a request.
_TOUCH_KEY = """
UPDATE api_keys SET last_used_at = now()
WHERE prefix = %s
    AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
"""
_LAST_USED_STEP = timedelta(minutes=1)


async def get_caller(request: Request, credentials: BearerDep) -> Caller:
    if credentials is None:
        raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
    state = request.app.state
    try:
        caller = await authenticate(
            state.pool, state.key_cache, credentials.credentials
        )
    except Unauthenticated:
        # Checked before throttled: a valid key is never refused for its address.
        await throttle_of(request).record_failure(client_address(request))
        raise
    bind_tenant(caller.slug)  # the request's remaining log lines name the tenant
    check_scope(caller, request.method, request.url.path)
    if caller.requests_per_minute is not None:
        await count_key_request(state.redis, caller, caller.requests_per_minute)
    return caller


async def authenticate(pool: Pool, cache: KeyCache, key: str) -> Caller:
    """The tenant whose key `key` is; Unauthenticated (with the reason) if none."""

    async def load(presented: str) -> StoredKey | None:
        async with pool.connection() as connection:
            cursor = await connection.execute(_KEY_ROW, [key_prefix(presented)])
            row = await cursor.fetchone()
            if row is not None and _is_used_now(presented, row):
                await connection.execute(_TOUCH_KEY, [key_prefix(presented)])
        if row is None:
            return None
        caller = Caller(
            row["id"],
            row["slug"],
            row["default_model"],
            row["limits"],
            key_prefix=key_prefix(presented),
            scopes=frozenset(row["scopes"])
            if row["scopes"] is not None
            else ALL_SCOPES,
            allowed_models=effective_allowed(row["tenant_models"], row["key_models"]),
            requests_per_minute=row["requests_per_minute"],
        )
        return StoredKey(row["key_hash"], row["revoked_at"], row["expires_at"], caller)

    stored = await cache.find(key, load)
    if stored is None:
        raise Unauthenticated("invalid API key")
    if stored.revoked_at is not None:
        raise Unauthenticated("this API key has been revoked")
    if is_expired(stored):
        raise Unauthenticated("this API key has expired")
    return stored.caller


def _is_used_now(presented: str, row: dict[str, Any]) -> bool:
    """Whether this read should move the key's last use: the key is the stored
    one (not a guess at its prefix) and its last use is a minute old or more."""
    last_used_at: datetime | None = row["last_used_at"]
    stale = last_used_at is None or last_used_at < datetime.now(UTC) - _LAST_USED_STEP
    return stale and matches(presented, row["key_hash"])


CallerDep = Annotated[Caller, Depends(get_caller)]


async def require_admin(
    request: Request, settings: SettingsDep, credentials: BearerDep
) -> None:
    token = settings.helixq_admin_token
    if token is None:
        raise Forbidden(
            "the admin API is disabled: set HELIXQ_ADMIN_TOKEN to enable it"
        )
    if credentials is None:
        raise Unauthenticated("invalid admin token")
    if not is_admin_token(settings, credentials.credentials):
        # The same budget as tenant keys: the admin token is worth more to guess.
        await throttle_of(request).record_failure(client_address(request))
        raise Unauthenticated("invalid admin token")


def is_admin_token(settings: ApiSettings, token: str) -> bool:
    admin = settings.helixq_admin_token
    return admin is not None and hmac.compare_digest(
        token.encode(), admin.get_secret_value().encode()
    )


AdminDep = Depends(require_admin)


async def get_admin_actor(request: Request) -> Actor:
    """The admin token's holder, as the audit trail names it (routes also guarded
    by AdminDep)."""
    return Actor(ADMIN, client_address(request))


AdminActorDep = Annotated[Actor, Depends(get_admin_actor)]


async def get_key_actor(request: Request, caller: CallerDep) -> Actor:
    """The calling key, as the audit trail names it: its prefix."""
    return Actor(caller.key_prefix, client_address(request))


KeyActorDep = Annotated[Actor, Depends(get_key_actor)]
