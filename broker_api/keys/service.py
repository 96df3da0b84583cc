"""Key use cases for the admin (any tenant) and a tenant (its own keys): list,
issue, rotate with an overlap, revoke. Each change writes its audit entry in its
own transaction, and every API process is told to forget what it checked."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from broker_api.caller import Caller
from broker_api.key_cache import announce_change
from broker_api.keys.views import IssuedKey, KeyCreate, KeyList, KeyView
from shared import audit
from shared.configured_models import listed_model_ids
from shared.db.models import Tenant
from shared.errors import InvalidRequest, ScopeMissing
from shared.model_access import check_model_allowed, normalized
from shared.routing.validation import check_known_models
from shared.tenancy import (
    KeyTerms,
    create_api_key,
    find_api_key,
    find_tenant,
    key_record,
    list_api_keys,
    record_key_change,
    revoke_api_key,
    rotate_api_key,
)

TenantOf = Callable[[Session], Tenant]  # finds the tenant in the use case's session


def tenant_named(slug: str) -> TenantOf:
    def tenant_of(sync: Session) -> Tenant:
        return find_tenant(sync, slug)

    return tenant_of


async def list_keys(session: AsyncSession, tenant_of: TenantOf) -> KeyList:
    def work(sync: Session) -> KeyList:
        now = datetime.now(UTC)
        keys = list_api_keys(sync, tenant_of(sync))
        return KeyList(data=[KeyView.of(api_key, now) for api_key in keys])

    async with session.begin():
        return await session.run_sync(work)


def key_terms(sync: Session, tenant: Tenant, body: KeyCreate) -> KeyTerms:
    """The body's terms, models checked against the catalog and the tenant's list."""
    models = normalized(body.allowed_models) if body.allowed_models else None
    if models is not None:
        check_known_models(models, listed_model_ids(sync), field="allowed_models")
        for model in models:
            check_model_allowed(model, tenant.allowed_models)
    scopes = sorted({scope.value for scope in body.scopes}) if body.scopes else None
    return KeyTerms(scopes, models, body.requests_per_minute)


def within_caller(terms: KeyTerms, caller: Caller) -> KeyTerms:
    """A key a tenant's key creates can do no more than the key creating it."""
    scopes = terms.scopes or sorted(caller.scopes)
    wider = sorted(set(scopes) - caller.scopes)
    if wider:
        raise ScopeMissing(wider[0], sorted(caller.scopes))
    models = terms.allowed_models
    if caller.allowed_models is not None:
        for model in models or []:
            check_model_allowed(model, caller.allowed_models)
        models = models or list(caller.allowed_models)
    rate = terms.requests_per_minute
    limit = caller.requests_per_minute
    if limit is not None and rate is None:
        rate = limit
    if limit is not None and rate is not None and rate > limit:
        raise InvalidRequest(
            f"requests_per_minute must be at most {limit}, the creating key's own",
            details={"field": "requests_per_minute", "max": limit},
        )
    return KeyTerms(scopes, models, rate)


async def issue_key(
    session: AsyncSession,
    actor: audit.Actor,
    tenant_of: TenantOf,
    body: KeyCreate,
    *,
    caller: Caller | None = None,
) -> IssuedKey:
    """A new key on the body's terms (bounded by `caller`'s key when a tenant
    creates it); the key is in this answer and nowhere else."""

    def work(sync: Session) -> IssuedKey:
        tenant = tenant_of(sync)
        terms = key_terms(sync, tenant, body)
        if caller is not None:
            terms = within_caller(terms, caller)
        issued = create_api_key(
            sync, tenant, name=body.name, expires_at=body.expires_at, terms=terms
        )
        api_key = find_api_key(sync, tenant, issued.prefix)
        record_key_change(sync, actor, "key.create", api_key, tenant=tenant.slug)
        return IssuedKey(
            key=issued.key, prefix=issued.prefix, api_key=KeyView.of(api_key)
        )

    async with session.begin():
        return await session.run_sync(work)


async def rotate_key(
    session: AsyncSession,
    redis: Redis,
    actor: audit.Actor,
    tenant_of: TenantOf,
    prefix: str,
    *,
    overlap_s: int,
) -> IssuedKey:
    """A new key on the old one's terms; the old one works `overlap_s` more."""

    def work(sync: Session) -> IssuedKey:
        tenant = tenant_of(sync)
        old = find_api_key(sync, tenant, prefix)
        before = key_record(old)
        until = datetime.now(UTC) + timedelta(seconds=overlap_s)
        issued = rotate_api_key(sync, tenant, old, old_until=until)
        new = find_api_key(sync, tenant, issued.prefix)
        audit.record(
            sync,
            actor,
            "key.rotate",
            target=f"key:{prefix}",
            tenant=tenant.slug,
            before=before,
            after={"old": key_record(old), "new": key_record(new)},
        )
        return IssuedKey(
            key=issued.key,
            prefix=issued.prefix,
            api_key=KeyView.of(new),
            replaces=KeyView.of(old),
        )

    async with session.begin():
        issued = await session.run_sync(work)
    await announce_change(redis, f"key {prefix}")  # the old key's new expiry
    return issued


async def revoke_key(
    session: AsyncSession,
    redis: Redis,
    actor: audit.Actor,
    tenant_of: TenantOf,
    prefix: str,
) -> KeyView:
    """Revoke the tenant's key `prefix` (twice keeps the first time); every API
    process stops accepting it at once, or within HELIXQ_AUTH_CACHE_S."""

    def work(sync: Session) -> KeyView:
        tenant = tenant_of(sync)
        before = key_record(find_api_key(sync, tenant, prefix))
        api_key = revoke_api_key(sync, prefix, now=datetime.now(UTC))
        record_key_change(
            sync, actor, "key.revoke", api_key, tenant=tenant.slug, before=before
        )
        return KeyView.of(api_key)

    async with session.begin():
        view = await session.run_sync(work)
    await announce_change(redis, f"key {prefix}")
    return view
