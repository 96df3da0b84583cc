"""KeyCache: keys checked once per TTL, revocations never kept, notices obeyed."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from broker_api.caller import Caller
from broker_api.key_cache import KeyCache, StoredKey
from shared.api_keys import hash_api_key

KEY = "hqk_0123abcd_" + "x" * 40
CALLER = Caller(uuid.uuid4(), "acme", None)


class Loader:
    """Stands in for the api_keys row; counts its reads."""

    def __init__(self, stored: StoredKey | None) -> None:
        self.stored = stored
        self.reads = 0

    async def __call__(self, _key: str) -> StoredKey | None:
        self.reads += 1
        return self.stored


def _stored(key: str = KEY, *, revoked: bool = False) -> StoredKey:
    revoked_at = datetime.now(UTC) if revoked else None
    return StoredKey(hash_api_key(key), revoked_at, None, CALLER)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_valid_key_is_read_once_within_the_ttl() -> None:
    cache, load = KeyCache(ttl_s=60), Loader(_stored())
    for _ in range(5):
        assert (await cache.find(KEY, load)) is not None
    assert load.reads == 1


@pytest.mark.anyio
async def test_a_key_is_read_again_once_its_entry_is_older_than_the_ttl() -> None:
    cache, load = KeyCache(ttl_s=0.05), Loader(_stored())
    await cache.find(KEY, load)
    load.stored = _stored(revoked=True)
    await asyncio.sleep(0.06)
    found = await cache.find(KEY, load)
    assert found is not None
    assert found.revoked_at is not None
    assert load.reads == 2


@pytest.mark.anyio
async def test_refusals_and_revoked_keys_are_not_kept() -> None:
    cache = KeyCache(ttl_s=60)
    missing, revoked = Loader(None), Loader(_stored(revoked=True))
    for _ in range(3):
        assert await cache.find(KEY, missing) is None
        assert (await cache.find(KEY, revoked)) is not None
    assert (missing.reads, revoked.reads) == (3, 3)


@pytest.mark.anyio
async def test_a_key_that_does_not_match_the_stored_hash_is_refused() -> None:
    # Same 12-character prefix, another secret: the row found is not this key's.
    other = KEY[:12] + "y" * 40
    cache = KeyCache(ttl_s=60)
    assert await cache.find(other, Loader(_stored(KEY))) is None


@pytest.mark.anyio
async def test_forget_all_makes_the_next_request_read_postgres() -> None:
    cache, load = KeyCache(ttl_s=60), Loader(_stored())
    await cache.find(KEY, load)
    cache.forget_all()
    await cache.find(KEY, load)
    assert load.reads == 2


@pytest.mark.anyio
async def test_a_read_that_began_before_a_notice_is_not_kept() -> None:
    cache = KeyCache(ttl_s=60)

    async def slow_load(_key: str) -> StoredKey:
        cache.forget_all()  # the notice lands while the row is being read
        return _stored()

    assert await cache.find(KEY, slow_load) is not None
    counting = Loader(_stored())
    await cache.find(KEY, counting)
    assert counting.reads == 1


@pytest.mark.anyio
async def test_entries_are_keyed_by_hash_not_by_the_key() -> None:
    cache = KeyCache(ttl_s=60)
    await cache.find(KEY, Loader(_stored()))
    assert KEY not in repr(vars(cache))


@pytest.mark.anyio
async def test_concurrent_requests_of_a_key_not_in_memory_read_it_once() -> None:
    # An entry expiring under load made every request in flight read the row,
    # and together they took every connection of the pool.
    cache = KeyCache(ttl_s=60)
    reads = 0

    async def slow_load(_key: str) -> StoredKey:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.05)
        return _stored()

    found = await asyncio.gather(*(cache.find(KEY, slow_load) for _ in range(50)))
    assert all(stored is not None for stored in found)
    assert reads == 1


@pytest.mark.anyio
async def test_a_request_after_a_notice_does_not_share_a_read_begun_before() -> None:
    cache = KeyCache(ttl_s=60)
    release = asyncio.Event()
    loads = [_stored(), _stored(revoked=True)]  # the row before, then after

    async def load(_key: str) -> StoredKey:
        stored = loads.pop(0)
        await release.wait()
        return stored

    before = asyncio.create_task(cache.find(KEY, load))
    await asyncio.sleep(0)
    cache.forget_all()  # the key was revoked meanwhile
    after = asyncio.create_task(cache.find(KEY, load))
    await asyncio.sleep(0)
    release.set()
    assert (await before) is not None
    found_after = await after
    assert found_after is not None
    assert found_after.revoked_at is not None
