"""Request-scoped dependencies: the DB session, the calling tenant, the admin guard."""

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.auth_throttle import client_address, throttle_of
from broker_api.catalog_ids import CatalogIds
from broker_api.enqueue import Enqueuer
from broker_api.settings import ApiSettings
from broker_api.waiters import JobWaiters
from shared.api_keys import key_prefix, matches
from shared.db.models import ApiKey, Tenant
from shared.errors import Forbidden, Unauthenticated
from shared.logging_setup import bind_tenant

_bearer = HTTPBearer(auto_error=False)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def get_enqueuer(request: Request) -> Enqueuer:
    enqueuer: Enqueuer = request.app.state.enqueuer
    return enqueuer


async def get_catalog_ids(request: Request, session: SessionDep) -> frozenset[str]:
    """Listed model ids; empty before the first catalog sync (then all are accepted)."""
    cache: CatalogIds = request.app.state.catalog_ids
    ids = await cache.get(session)
    await session.rollback()  # end the read so the route opens its own transaction
    return ids


CatalogIdsDep = Annotated[frozenset[str], Depends(get_catalog_ids)]


def get_waiters(request: Request) -> JobWaiters:
    waiters: JobWaiters = request.app.state.waiters
    return waiters


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Repeat a request safely: same key and body, same answer (24 h).",
    ),
]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
WaitersDep = Annotated[JobWaiters, Depends(get_waiters)]
EnqueuerDep = Annotated[Enqueuer, Depends(get_enqueuer)]


@dataclass(frozen=True)
class Caller:
    """The authenticated tenant behind a request."""

    tenant_id: UUID
    slug: str
    default_model: str | None
    limits: dict[str, object] | None = None  # tenants.limits, as stored


async def get_caller(
    request: Request, session: SessionDep, credentials: BearerDep
) -> Caller:
    if credentials is None:
        raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
    try:
        return await _authenticate(session, credentials.credentials)
    except Unauthenticated:
        # Checked before throttled: a valid key is never refused for its address.
        await throttle_of(request).record_failure(client_address(request))
        raise


async def _authenticate(session: AsyncSession, key: str) -> Caller:
    row = (
        await session.execute(
            select(
                ApiKey.key_hash,
                ApiKey.revoked_at,
                ApiKey.expires_at,
                Tenant.id,
                Tenant.slug,
                Tenant.default_model,
                Tenant.limits,
            )
            .join(Tenant, Tenant.id == ApiKey.tenant_id)
            .where(ApiKey.prefix == key_prefix(key))
        )
    ).first()
    await session.rollback()  # end the read so the route opens its own transaction
    if row is None or not matches(key, row.key_hash):
        raise Unauthenticated("invalid API key")
    if row.revoked_at is not None:
        raise Unauthenticated("this API key has been revoked")
    if row.expires_at is not None and row.expires_at <= datetime.now(UTC):
        raise Unauthenticated("this API key has expired")
    bind_tenant(row.slug)  # the request's remaining log lines name the tenant
    return Caller(
        tenant_id=row.id,
        slug=row.slug,
        default_model=row.default_model,
        limits=row.limits,
    )


CallerDep = Annotated[Caller, Depends(get_caller)]


async def require_admin(settings: SettingsDep, credentials: BearerDep) -> None:
    token = settings.helixq_admin_token
    if token is None:
        raise Forbidden(
            "the admin API is disabled: set HELIXQ_ADMIN_TOKEN to enable it"
        )
    if credentials is None or not hmac.compare_digest(
        credentials.credentials.encode(), token.get_secret_value().encode()
    ):
        raise Unauthenticated("invalid admin token")


AdminDep = Depends(require_admin)
