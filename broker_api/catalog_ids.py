"""The listed model ids, cached per API process for a short while.

Every submission is checked against them; reading every listed id from Postgres on
every request would cost more than the check itself.
"""

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker_api.models.queries import listed_embedding_model_ids, listed_model_ids

TTL_S = 30.0


class CatalogIds:
    def __init__(self, ttl_s: float = TTL_S) -> None:
        self._ttl_s = ttl_s
        self._ids: frozenset[str] = frozenset()
        self._embedding_ids: frozenset[str] = frozenset()
        self._read_at = float("-inf")
        self._reading: asyncio.Future[None] | None = None

    async def get(self, sessions: async_sessionmaker[AsyncSession]) -> frozenset[str]:
        """The ids, re-read when older than the TTL (a new model shows up within it);
        a session is opened only to re-read them, by one request for all those
        that find them stale together."""
        if time.monotonic() - self._read_at > self._ttl_s:
            if self._reading is None:
                self._reading = asyncio.ensure_future(self._read(sessions))
            # Shielded: a request that gives up does not cancel the others' read.
            await asyncio.shield(self._reading)
        return self._ids

    async def embedding_ids(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> frozenset[str]:
        """The listed embedding models' ids, read with the others."""
        await self.get(sessions)
        return self._embedding_ids

    async def _read(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        try:
            async with sessions() as session:
                self._ids = frozenset(await listed_model_ids(session))
                self._embedding_ids = frozenset(
                    await listed_embedding_model_ids(session)
                )
            # An empty catalog is one not synced yet: read it again next time, so
            # the first sync is seen at once (lanes and validation depend on it).
            if self._ids:
                self._read_at = time.monotonic()
        finally:
            self._reading = None
