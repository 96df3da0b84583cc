"""A tenant's own OpenRouter key in Postgres: set, cleared, opened and resealed.

Plain functions over a sync Session (like shared.tenancy). Each change of a key is
one function, so whatever must go with it (an audit row) has one place to go. The
key is stored sealed (shared.sealing) beside its hint and label
(shared.upstream_keys); nothing here logs or returns it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import audit
from shared.db.models import Tenant
from shared.errors import InvalidOpenRouterKey, SecretKeyNotSet, SettingsError
from shared.sealing import SecretBox, Unreadable
from shared.settings import TenantSeed
from shared.upstream_keys import SHAPE_HELP, is_openrouter_key, key_hint, key_label

SECRET_KEY_MISSING = (
    "HELIXQ_SECRET_KEY is not set: it seals tenants' OpenRouter keys at rest "
    "(`helixq secrets generate` makes one)"
)


@dataclass(frozen=True, slots=True)
class KeyShown:
    """What may be shown of a tenant's OpenRouter key."""

    hint: str
    label: str
    set_at: datetime
    provisioned: bool  # made by helixq with OPENROUTER_MANAGEMENT_KEY
    limit_usd: Decimal | None  # the credit limit OpenRouter holds it to, if known


def shown_key(tenant: Tenant) -> KeyShown | None:
    """The tenant's key as it may be shown; None when it uses the global key."""
    if tenant.openrouter_key_label is None or tenant.openrouter_key_set_at is None:
        return None
    return KeyShown(
        hint=tenant.openrouter_key_hint or "",
        label=tenant.openrouter_key_label,
        set_at=tenant.openrouter_key_set_at,
        provisioned=tenant.openrouter_key_provisioned_hash is not None,
        limit_usd=tenant.openrouter_key_limit_usd,
    )


def set_openrouter_key(
    tenant: Tenant, key: str, *, box: SecretBox | None, now: datetime
) -> bool:
    """Seal `key` as the tenant's OpenRouter key; False when the tenant already
    had this very key (nothing written). Raises InvalidOpenRouterKey when it is
    not shaped like one, SecretKeyNotSet without HELIXQ_SECRET_KEY."""
    if not is_openrouter_key(key):
        raise InvalidOpenRouterKey(
            f"the key is not an OpenRouter key: {SHAPE_HELP}",
            details={"field": "key"},
        )
    if box is None:
        raise SecretKeyNotSet(SECRET_KEY_MISSING)
    if tenant.openrouter_key_label == key_label(key):
        return False
    _seal(tenant, key, box=box, now=now)
    # The operator's key replaces one helixq provisioned, which stays at OpenRouter.
    tenant.openrouter_key_provisioned_hash = None
    tenant.openrouter_key_limit_usd = None
    return True


def _seal(tenant: Tenant, key: str, *, box: SecretBox, now: datetime) -> None:
    tenant.openrouter_key_sealed = box.seal(key)
    tenant.openrouter_key_hint = key_hint(key)
    tenant.openrouter_key_label = key_label(key)
    tenant.openrouter_key_set_at = now


def store_provisioned_key(
    tenant: Tenant,
    key: str,
    *,
    key_hash: str,
    limit_usd: Decimal | None,
    box: SecretBox,
    now: datetime,
) -> None:
    """Seal a key helixq provisioned for the tenant (its id at OpenRouter is
    `key_hash`, its credit limit `limit_usd`)."""
    _seal(tenant, key, box=box, now=now)
    tenant.openrouter_key_provisioned_hash = key_hash
    tenant.openrouter_key_limit_usd = limit_usd


def record_provisioned_limit(tenant: Tenant, limit_usd: Decimal | None) -> None:
    """The credit limit OpenRouter now holds the tenant's provisioned key to."""
    tenant.openrouter_key_limit_usd = limit_usd


def clear_openrouter_key(tenant: Tenant) -> bool:
    """The tenant's calls go out on the global key again; False if they did."""
    if tenant.openrouter_key_label is None:
        return False
    tenant.openrouter_key_sealed = None
    tenant.openrouter_key_hint = None
    tenant.openrouter_key_label = None
    tenant.openrouter_key_set_at = None
    tenant.openrouter_key_provisioned_hash = None
    tenant.openrouter_key_limit_usd = None
    return True


def check_seed_sealing(seeds: Sequence[TenantSeed], box: SecretBox | None) -> None:
    """SettingsError (one line, naming the first variable) when the environment
    gives a tenant an OpenRouter key but no HELIXQ_SECRET_KEY to seal it with."""
    needing = [seed.variable("api_key") for seed in seeds if seed.api_key]
    if needing and box is None:
        raise SettingsError(f"{SECRET_KEY_MISSING}; {needing[0]} needs it")


def open_openrouter_key(sealed: str, box: SecretBox | None) -> str:
    """The key in clear, in memory only; Unreadable when it cannot be opened."""
    if box is None:
        raise Unreadable(SECRET_KEY_MISSING)
    return box.open(sealed)


def tenant_openrouter_key(
    session: Session, tenant_id: UUID, box: SecretBox | None
) -> str | None:
    """The tenant's own OpenRouter key in clear, in memory only; None when it has
    none (its calls use the global key). Unreadable when it cannot be opened."""
    sealed = session.scalar(
        select(Tenant.openrouter_key_sealed).where(Tenant.id == tenant_id)
    )
    return None if sealed is None else open_openrouter_key(sealed, box)


@dataclass(frozen=True, slots=True)
class Resealed:
    """What `reseal_openrouter_keys` did: keys sealed again, and the tenants whose
    key no key of HELIXQ_SECRET_KEY opens (left as they were)."""

    resealed: int
    unreadable: list[str]


def reseal_openrouter_keys(session: Session, box: SecretBox) -> Resealed:
    """Seal every stored key again with the first key of HELIXQ_SECRET_KEY, so
    the older keys can be dropped from it."""
    tenants = session.scalars(
        select(Tenant)
        .where(Tenant.openrouter_key_sealed.is_not(None))
        .order_by(Tenant.slug)
        .with_for_update()
    )
    count, unreadable = 0, []
    for tenant in tenants:
        try:
            tenant.openrouter_key_sealed = box.reseal(
                tenant.openrouter_key_sealed or ""
            )
        except Unreadable:
            unreadable.append(tenant.slug)
            continue
        count += 1
    session.flush()
    return Resealed(resealed=count, unreadable=unreadable)


def reseal_on_record(session: Session, box: SecretBox, actor: audit.Actor) -> Resealed:
    """`reseal_openrouter_keys`, with its audit entry in the same transaction."""
    done = reseal_openrouter_keys(session, box)
    after = {"resealed": done.resealed, "unreadable": done.unreadable}
    audit.record(
        session, actor, "secrets.reseal", target="secrets", tenant=None, after=after
    )
    return done
