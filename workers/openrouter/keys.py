"""The OpenRouter keys a worker sends calls with: the global one and tenants' own.

A tenant's key is read sealed from its row and opened in memory only, at most
once per HELIXQ_TENANT_REFRESH_S per process (a rotation needs no restart); it
never travels in a task message. Limits, logs and Redis know a key by its label
(shared.upstream_keys), never the key.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import Tenant
from shared.openrouter_key_store import open_openrouter_key
from shared.redaction import Redactor
from shared.sealing import SecretBox, Unreadable
from shared.upstream_keys import key_label

logger = logging.getLogger(__name__)

_TENANT_KEY = (
    "SELECT openrouter_key_sealed, openrouter_key_label, "
    "openrouter_key_provisioned_hash IS NOT NULL FROM tenants WHERE slug = %(slug)s"
)


@dataclass(frozen=True, slots=True)
class UpstreamKey:
    """One OpenRouter key, and the redactor that masks it in upstream text."""

    label: str
    secret: SecretStr = field(repr=False)
    redactor: Redactor = field(repr=False, compare=False)
    # Prefixes the names of the key's rate-limit buckets, cool-downs and factors
    # (workers.limits.buckets): empty for the global key, whose names predate
    # tenants' own keys.
    scope: str = ""
    # Provisioned by helixq with the tenant's budget as its credit limit: the
    # upstream's 402/403 on it mean that budget is spent.
    is_provisioned: bool = False

    @classmethod
    def of(
        cls, key: SecretStr, *, is_global: bool = False, is_provisioned: bool = False
    ) -> "UpstreamKey":
        value = key.get_secret_value()
        label = key_label(value)
        return cls(
            label=label,
            secret=key,
            redactor=Redactor([value]),
            scope="" if is_global else f"key:{label}:",
            is_provisioned=is_provisioned,
        )

    def authorization(self) -> str:
        """The Authorization header's value."""
        return f"Bearer {self.secret.get_secret_value()}"


class UnreadableTenantKey(Exception):
    """The tenant's key is sealed with a key HELIXQ_SECRET_KEY no longer holds
    (or this worker has none): its calls cannot go out on the right account."""


class TenantKeys:
    """The key each tenant's calls use, read at most once per `ttl_s` a tenant."""

    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[TupleRow]],
        *,
        default: UpstreamKey,
        box: SecretBox | None,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self.default = default
        self._box = box
        self._ttl_s = ttl_s
        self._clock = clock
        self._cached: dict[str, tuple[float, UpstreamKey | None]] = {}
        self._opened: dict[str, UpstreamKey] = {}  # by label: opened once

    async def get(self, slug: str) -> UpstreamKey:
        """The tenant's own key, or the global one when it has none; raises
        UnreadableTenantKey when its sealed key cannot be opened."""
        now = self._clock()
        cached = self._cached.get(slug)
        if cached is None or now - cached[0] >= self._ttl_s:
            cached = (now, await self._read(slug))
            self._cached[slug] = cached
        own = cached[1]
        return self.default if own is None else own

    async def _read(self, slug: str) -> UpstreamKey | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_TENANT_KEY, {"slug": slug}, prepare=True)
            row = await cursor.fetchone()
        if row is None or row[0] is None:
            return None
        sealed, label, is_provisioned = str(row[0]), str(row[1]), bool(row[2])
        if label == self.default.label:  # its own key is the global one: shared
            return self.default
        opened = self._opened.get(label)
        if opened is not None:
            return opened
        if self._box is None:
            raise UnreadableTenantKey(
                f"tenant {slug}: its OpenRouter key is sealed and HELIXQ_SECRET_KEY "
                "is not set on this worker"
            )
        try:
            opened = UpstreamKey.of(
                SecretStr(self._box.open(sealed)), is_provisioned=is_provisioned
            )
        except Unreadable:
            raise UnreadableTenantKey(
                f"tenant {slug}: no key of HELIXQ_SECRET_KEY opens its OpenRouter "
                f"key (label {label})"
            ) from None
        self._opened[label] = opened
        return opened


def open_tenant_keys(session: Session, box: SecretBox | None) -> list[UpstreamKey]:
    """Every distinct OpenRouter key tenants have of their own, opened (for the
    periodic checks); one no key of HELIXQ_SECRET_KEY opens is left out."""
    rows = session.execute(
        select(Tenant.openrouter_key_label, Tenant.openrouter_key_sealed)
        .where(Tenant.openrouter_key_sealed.is_not(None))
        .distinct(Tenant.openrouter_key_label)
    )
    opened = []
    for label, sealed in rows:
        try:
            key = open_openrouter_key(sealed or "", box)
            opened.append(UpstreamKey.of(SecretStr(key)))
        except Unreadable:
            logger.warning("OpenRouter key %s cannot be opened: not checked", label)
    return opened
