"""The model catalog as routing and the limits read it: the listed models, loaded
from Postgres on the worker's event loop at most once per TTL a process (routing
is hot; maintenance.catalog_sync keeps the table current)."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import text
from sqlalchemy.orm import Session

from shared.routing.catalog import ModelInfo

Loader = Callable[[], Awaitable[dict[str, ModelInfo]]]

_LISTED = """
SELECT id, name, context_length, max_completion_tokens, prompt_price,
    completion_price, request_price, pricing, supported_parameters, created,
    output_modalities
FROM models WHERE is_listed
"""


async def load_listed_models(
    pool: AsyncConnectionPool[AsyncConnection[TupleRow]],
) -> dict[str, ModelInfo]:
    """The listed models, by id."""
    async with pool.connection() as conn:
        cursor = await conn.execute(_LISTED, prepare=True)
        rows = await cursor.fetchall()
    return {row[0]: _model_info(row) for row in rows}


def load_listed_models_blocking(session: Session) -> dict[str, ModelInfo]:
    """The listed models, by id, read in a periodic task's transaction."""
    rows = session.execute(text(_LISTED)).all()
    return {row[0]: _model_info(tuple(row)) for row in rows}


def _model_info(row: tuple[Any, ...]) -> ModelInfo:
    model_id, name, context, max_completion, prompt, completion, request, *rest = row
    pricing, parameters, created, modalities = rest
    return ModelInfo(
        id=model_id,
        name=name,
        context_length=context,
        max_completion_tokens=max_completion,
        prompt_price=prompt,
        completion_price=completion,
        request_price=request,
        pricing={str(key): str(value) for key, value in (pricing or {}).items()},
        supported_parameters=None if parameters is None else tuple(parameters),
        created=created,
        output_modalities=None if modalities is None else tuple(modalities),
    )


class CatalogCache:
    """The listed models, reloaded when older than `ttl_s` (use it on one loop)."""

    def __init__(
        self,
        load: Loader,
        *,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._clock = clock
        self._models: dict[str, ModelInfo] = {}
        self._loaded_at: float | None = None
        # One reload at a time: the jobs that find the cache stale wait for it.
        self._loading = asyncio.Lock()

    @classmethod
    def on(cls, pool: AsyncConnectionPool[AsyncConnection[TupleRow]]) -> "CatalogCache":
        """A cache loading from the worker's connection pool."""
        return cls(lambda: load_listed_models(pool))

    def _is_fresh(self) -> bool:
        loaded_at = self._loaded_at
        return loaded_at is not None and self._clock() - loaded_at < self._ttl_s

    async def get(self) -> Mapping[str, ModelInfo]:
        """The listed models; read from Postgres only when the cache is stale."""
        if self._is_fresh():
            return self._models
        async with self._loading:
            if not self._is_fresh():
                self._models = await self._load()
                self._loaded_at = self._clock()
        return self._models
