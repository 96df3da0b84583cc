"""CatalogIds: the listed model ids read once per TTL, however many requests wait."""

import asyncio
from contextlib import asynccontextmanager

import pytest

from broker_api import catalog_ids
from broker_api.catalog_ids import CatalogIds


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def _sessions():  # type: ignore[no-untyped-def]
    yield object()


@pytest.mark.anyio
async def test_concurrent_requests_of_stale_ids_read_them_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Expiring under load, the ids used to be read by every request in flight.
    reads = 0

    async def listed(_session: object) -> set[str]:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.05)
        return {"openai/gpt-4o-mini"}

    async def embedding(_session: object) -> set[str]:
        return {"openai/text-embedding-3-small"}

    monkeypatch.setattr(catalog_ids, "listed_model_ids", listed)
    monkeypatch.setattr(catalog_ids, "listed_embedding_model_ids", embedding)
    cache = CatalogIds(ttl_s=60)
    found = await asyncio.gather(*(cache.get(_sessions) for _ in range(30)))  # type: ignore[arg-type]
    assert found == [frozenset({"openai/gpt-4o-mini"})] * 30
    assert reads == 1
    embedding_ids = await cache.embedding_ids(_sessions)  # type: ignore[arg-type]
    assert embedding_ids == frozenset({"openai/text-embedding-3-small"})
    assert reads == 1  # read with the others


@pytest.mark.anyio
async def test_an_empty_catalog_is_read_again_until_the_first_sync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listings = iter([set(), {"openai/gpt-4o-mini", "openai/gpt-4o-mini:batch"}])

    async def listed(_session: object) -> set[str]:
        return next(listings)

    async def no_embeddings(_session: object) -> set[str]:
        return set()

    monkeypatch.setattr(catalog_ids, "listed_model_ids", listed)
    monkeypatch.setattr(catalog_ids, "listed_embedding_model_ids", no_embeddings)
    cache = CatalogIds(ttl_s=60)

    assert await cache.get(_sessions) == frozenset()  # type: ignore[arg-type]
    assert "openai/gpt-4o-mini:batch" in await cache.get(_sessions)  # type: ignore[arg-type]
