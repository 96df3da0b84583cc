"""The listed model ids, cached per API process for a short while.

Every submission is checked against them; reading every listed id from Postgres on
every request would cost more than the check itself.
"""

import time

from sqlalchemy.ext.asyncio import AsyncSession

from broker_api.models.queries import listed_model_ids

TTL_S = 30.0


class CatalogIds:
    def __init__(self, ttl_s: float = TTL_S) -> None:
        self._ttl_s = ttl_s
        self._ids: frozenset[str] = frozenset()
        self._read_at = float("-inf")

    async def get(self, session: AsyncSession) -> frozenset[str]:
        """The ids, re-read when older than the TTL (a new model shows up within it)."""
        if time.monotonic() - self._read_at > self._ttl_s:
            self._ids = frozenset(await listed_model_ids(session))
            self._read_at = time.monotonic()
        return self._ids
