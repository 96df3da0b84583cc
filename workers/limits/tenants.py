"""Each tenant's own limits (tenants.limits), read at most once per TTL a process."""

import logging
import time
from collections.abc import Callable

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from shared.rate_limits import TenantLimits, tenant_limits

logger = logging.getLogger(__name__)

_LIMITS = "SELECT limits FROM tenants WHERE slug = %(slug)s"
NO_LIMITS = TenantLimits()


class TenantLimitsCache:
    """Tenant limits by slug; an admin change takes effect within `ttl_s`."""

    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[TupleRow]],
        *,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._ttl_s = ttl_s
        self._clock = clock
        self._cached: dict[str, tuple[float, TenantLimits]] = {}

    async def get(self, slug: str) -> TenantLimits:
        """The tenant's limits (no limits for an unknown tenant or a bad row)."""
        now = self._clock()
        cached = self._cached.get(slug)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        limits = await self._read(slug)
        self._cached[slug] = (now, limits)
        return limits

    async def _read(self, slug: str) -> TenantLimits:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_LIMITS, {"slug": slug}, prepare=True)
            row = await cursor.fetchone()
        try:
            return tenant_limits(row[0] if row else None)
        except ValidationError:
            # The admin API validates; a row edited by hand must not stop the tenant.
            logger.warning("tenant %s: unreadable limits ignored", slug)
            return NO_LIMITS
