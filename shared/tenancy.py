"""Tenants and their keys: creation and the start-up upsert from the environment.

Plain functions over a sync Session; the API calls them through
`AsyncSession.run_sync`, the CLI directly, so there is one way to do each thing.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import audit
from shared.api_keys import (
    PREFIX_CHARS,
    IssuedKey,
    generate_api_key,
    issued_from,
    key_prefix,
    matches,
)
from shared.configured_models import check_environment_models, listed_model_ids
from shared.db.models import ApiKey, Tenant
from shared.errors import (
    InvalidRequest,
    KeyNotFound,
    KeyRevoked,
    NotFound,
    SettingsError,
    TenantExists,
    TenantNotFound,
)
from shared.model_access import parse_allowed_models
from shared.openrouter_key_store import check_seed_sealing, set_openrouter_key
from shared.routing.validation import check_known_models
from shared.sealing import SecretBox
from shared.settings import TenantSeed

# Tenants and keys the environment names are created at start, by the operator.
ENVIRONMENT_ACTOR = audit.Actor(audit.ADMIN, "environment")
_SLUG_INVALID = re.compile(r"[^a-z0-9-]+")


def slugify(name: str) -> str:
    """`Acme Corp` → `acme-corp`; the slug names the tenant's queue."""
    slug = _SLUG_INVALID.sub("-", name.strip().lower()).strip("-")[:63]
    if not slug:
        raise InvalidRequest(
            f"tenant name {name!r} has no letters or digits to build a slug from",
            details={"field": "name"},
        )
    return slug


def create_tenant(
    session: Session,
    name: str,
    *,
    default_model: str | None = None,
    route_strategy: str | None = None,
    fallback_strategy: str | None = None,
) -> Tenant:
    slug = slugify(name)
    if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise TenantExists(slug)
    if default_model:
        check_known_models(
            [default_model], listed_model_ids(session), field="default_model"
        )
    tenant = Tenant(
        slug=slug,
        name=name.strip(),
        default_model=default_model,
        route_strategy=route_strategy,
        fallback_strategy=fallback_strategy,
    )
    session.add(tenant)
    session.flush()
    return tenant


def find_tenant(session: Session, slug: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise TenantNotFound(slug)
    return tenant


@dataclass(frozen=True)
class KeyTerms:
    """What a key may do besides authenticate: None everywhere means everything."""

    scopes: list[str] | None = None
    allowed_models: list[str] | None = None
    requests_per_minute: int | None = None


def create_api_key(
    session: Session,
    tenant: Tenant,
    *,
    name: str = "default",
    expires_at: datetime | None = None,
    issued: IssuedKey | None = None,
    terms: KeyTerms | None = None,
) -> IssuedKey:
    """Store a new key for `tenant`; the returned key is the only copy in clear."""
    issued = issued or generate_api_key()
    terms = terms or KeyTerms()
    session.add(
        ApiKey(
            tenant_id=tenant.id,
            prefix=issued.prefix,
            key_hash=issued.key_hash,
            name=name,
            expires_at=expires_at,
            scopes=terms.scopes,
            allowed_models=terms.allowed_models,
            requests_per_minute=terms.requests_per_minute,
        )
    )
    session.flush()
    return issued


def key_record(api_key: ApiKey) -> dict[str, Any]:
    """A key as the audit trail keeps it: its terms and times, never the secret."""
    return {
        "prefix": api_key.prefix,
        "name": api_key.name,
        "scopes": api_key.scopes,
        "allowed_models": api_key.allowed_models,
        "requests_per_minute": api_key.requests_per_minute,
        "created_at": api_key.created_at,
        "expires_at": api_key.expires_at,
        "revoked_at": api_key.revoked_at,
    }


def tenant_record(tenant: Tenant) -> dict[str, Any]:
    """A tenant as the audit trail keeps it at creation."""
    return {
        "slug": tenant.slug,
        "name": tenant.name,
        "default_model": tenant.default_model,
        "route_strategy": tenant.route_strategy,
        "fallback_strategy": tenant.fallback_strategy,
    }


def record_tenant_created(
    session: Session,
    actor: audit.Actor,
    tenant: Tenant,
    *,
    first_key: ApiKey | None = None,
) -> None:
    """The audit entry of a new tenant (and the key it was created with)."""
    after = tenant_record(tenant)
    if first_key is not None:
        after["api_key"] = key_record(first_key)
    audit.record(
        session,
        actor,
        "tenant.create",
        target=f"tenant:{tenant.slug}",
        tenant=tenant.slug,
        after=after,
    )


def record_key_change(
    session: Session,
    actor: audit.Actor,
    action: str,
    api_key: ApiKey,
    *,
    tenant: str | None,
    before: dict[str, Any] | None = None,
) -> None:
    """The audit entry of a change to `api_key`, its state after the change."""
    audit.record(
        session,
        actor,
        action,
        target=f"key:{api_key.prefix}",
        tenant=tenant,
        before=before,
        after=key_record(api_key),
    )


def find_api_key(session: Session, tenant: Tenant, prefix: str) -> ApiKey:
    """The tenant's key stored under `prefix`; KeyNotFound for another tenant's."""
    api_key = session.scalar(
        select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.tenant_id == tenant.id)
    )
    if api_key is None:
        raise KeyNotFound(prefix)
    return api_key


def rotate_api_key(
    session: Session, tenant: Tenant, old: ApiKey, *, old_until: datetime
) -> IssuedKey:
    """A new key on the old one's terms; the old one keeps working until
    `old_until` (or its own earlier expiry). A revoked key cannot be rotated."""
    if old.revoked_at is not None:
        raise KeyRevoked(old.prefix)
    terms = KeyTerms(old.scopes, old.allowed_models, old.requests_per_minute)
    issued = create_api_key(
        session, tenant, name=old.name, expires_at=old.expires_at, terms=terms
    )
    if old.expires_at is None or old.expires_at > old_until:
        old.expires_at = old_until
    session.flush()
    return issued


def upsert_tenant_seeds(
    session: Session, seeds: list[TenantSeed], *, box: SecretBox | None = None
) -> list[Tenant]:
    """Create or update the tenants named in the environment (idempotent); raises
    SettingsError naming the variable at fault, before writing anything when a
    default model is not in the catalog or a tenant's OpenRouter key has no
    HELIXQ_SECRET_KEY (`box`) to seal it."""
    check_environment_models(session, seeds=seeds)
    check_seed_sealing(seeds, box)
    tenants = []
    for seed in seeds:
        slug = _seed_slug(seed)
        tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            tenant = create_tenant(session, seed.name)
            record_tenant_created(session, ENVIRONMENT_ACTOR, tenant)
        tenant.default_model = seed.default_model or tenant.default_model
        tenant.route_strategy = seed.route_strategy or tenant.route_strategy
        tenant.fallback_strategy = seed.fallback_strategy or tenant.fallback_strategy
        tenant.model_substitution = seed.model_substitution or tenant.model_substitution
        if seed.allowed_models is not None:
            tenant.allowed_models = _seed_allowed_models(seed)
        if seed.api_key is not None:
            set_openrouter_key(
                tenant, seed.api_key.get_secret_value(), box=box, now=_now()
            )
        if seed.client_key is not None:
            _ensure_key(session, tenant, seed.client_key, seed.variable("client_key"))
        tenants.append(tenant)
    session.flush()
    return tenants


def _seed_allowed_models(seed: TenantSeed) -> list[str]:
    models = parse_allowed_models(seed.allowed_models or "")
    if not models:
        raise SettingsError(
            f"invalid {seed.variable('allowed_models')}: name at least one model "
            "(comma-separated), or leave it unset to allow every model"
        )
    return models


def _now() -> datetime:
    return datetime.now(UTC)


def _seed_slug(seed: TenantSeed) -> str:
    try:
        return slugify(seed.name)
    except InvalidRequest as exc:
        raise SettingsError(
            f"invalid {seed.variable('name')}={seed.name!r}: {exc.message}"
        ) from None


def _ensure_key(
    session: Session, tenant: Tenant, key: SecretStr, variable: str
) -> None:
    issued = issued_from(key.get_secret_value())
    existing = session.scalar(select(ApiKey).where(ApiKey.prefix == issued.prefix))
    if existing is None:
        create_api_key(session, tenant, name="environment", issued=issued)
        api_key = find_api_key(session, tenant, issued.prefix)
        record_key_change(
            session, ENVIRONMENT_ACTOR, "key.create", api_key, tenant=tenant.slug
        )
    elif existing.tenant_id != tenant.id or existing.key_hash != issued.key_hash:
        raise SettingsError(
            f"invalid {variable}: it starts like another stored "
            f"key; choose a key whose first {PREFIX_CHARS} characters are unique"
        )


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.slug)))


def list_api_keys(session: Session, tenant: Tenant) -> list[ApiKey]:
    """The tenant's keys, oldest first (revoked and expired ones included)."""
    query = (
        select(ApiKey)
        .where(ApiKey.tenant_id == tenant.id)
        .order_by(ApiKey.created_at, ApiKey.prefix)
    )
    return list(session.scalars(query))


def revoke_api_key(session: Session, prefix: str, *, now: datetime) -> ApiKey:
    """Revoke the key stored under `prefix`; revoking twice keeps the first time."""
    api_key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if api_key is None:
        raise NotFound(f"no API key with prefix {prefix!r}", details={"prefix": prefix})
    if api_key.revoked_at is None:
        api_key.revoked_at = now
        session.flush()
    return api_key


def is_active_key(session: Session, tenant: Tenant, key: str, *, now: datetime) -> bool:
    """True when `key` is a stored, unrevoked, unexpired key of `tenant`."""
    api_key = session.scalar(
        select(ApiKey).where(
            ApiKey.prefix == key_prefix(key), ApiKey.tenant_id == tenant.id
        )
    )
    if api_key is None or api_key.revoked_at is not None:
        return False
    if api_key.expires_at is not None and api_key.expires_at <= now:
        return False
    return matches(key, api_key.key_hash)
