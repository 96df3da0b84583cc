"""Authenticated API keys, remembered per API process for a few seconds.

Looking a key up in Postgres on every request cost more than accepting the job.
A key found valid is kept for at most `ttl_s` (HELIXQ_AUTH_CACHE_S), counted from
the moment its row was read, so a key revoked or a tenant changed in Postgres
stops counting in every API process within that time, however the change was
made. Changes made through helixq (`helixq keys revoke`, the admin API) also
publish a notice on KEYS_CHANGED_CHANNEL, on which every process forgets all it
holds at once; the TTL is the bound when a notice is lost or the change came
from elsewhere (SQL by hand). Refusals are not kept: a key that fails is looked
up again (the auth throttle bounds how often).

Entries are keyed by the key's SHA-256, so the cache holds no key in clear.
"""

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from broker_api.caller import Caller
from shared.api_keys import hash_api_key
from shared.redis_keys import KEYS_CHANGED_CHANNEL

logger = logging.getLogger(__name__)

DEFAULT_TTL_S = 5.0


@dataclass(frozen=True)
class StoredKey:
    """What authenticating a key needs from its row and its tenant's."""

    key_hash: str
    revoked_at: datetime | None
    expires_at: datetime | None
    caller: Caller


Loader = Callable[[str], Awaitable[StoredKey | None]]  # key → its row, if any


@dataclass(frozen=True)
class _Entry:
    stored: StoredKey
    read_at: float  # time.monotonic() when the row's read began


@dataclass(frozen=True)
class _Loading:
    read: "asyncio.Future[StoredKey | None]"
    began_at: float  # time.monotonic()


class KeyCache:
    def __init__(self, ttl_s: float = DEFAULT_TTL_S) -> None:
        self._ttl_s = ttl_s
        self._entries: dict[str, _Entry] = {}
        # Bumped by forget_all, so a read that began before a notice cannot put
        # back what the notice removed.
        self._generation = 0
        self._swept_at = time.monotonic()
        self._loading: dict[str, _Loading] = {}

    async def find(self, key: str, load: Loader) -> StoredKey | None:
        """The row of `key` (None when no stored key matches it): from memory when
        read less than `ttl_s` ago, else from `load`. Revoked rows are not kept."""
        digest = hash_api_key(key)
        now = time.monotonic()
        entry = self._entries.get(digest)
        if entry is not None and now - entry.read_at < self._ttl_s:
            return entry.stored
        if now - self._swept_at >= self._ttl_s:
            self.forget_expired()
            self._swept_at = now
        generation = self._generation
        stored, read_at = await self._load_once(digest, key, load)
        if stored is None or not hmac.compare_digest(stored.key_hash, digest):
            return None
        if stored.revoked_at is None and generation == self._generation:
            self._entries[digest] = _Entry(stored, read_at)
        return stored

    async def _load_once(
        self, digest: str, key: str, load: Loader
    ) -> tuple[StoredKey | None, float]:
        """`load(key)` and when it began, shared by the requests of one key that
        miss together: an entry expiring under load would otherwise send every
        request in flight to Postgres at once, taking the pool's connections."""
        loading = self._loading.get(digest)
        if loading is None:
            loading = _Loading(asyncio.ensure_future(load(key)), time.monotonic())
            self._loading[digest] = loading
            loading.read.add_done_callback(lambda _: self._loaded(digest, loading))
        # Shielded: a request that gives up does not cancel the others' read.
        return await asyncio.shield(loading.read), loading.began_at

    def _loaded(self, digest: str, loading: "_Loading") -> None:
        if self._loading.get(digest) is loading:
            del self._loading[digest]

    def forget_all(self) -> None:
        """Drop every entry: the next request of each key reads Postgres (reads
        under way are not shared with requests made from now on)."""
        self._generation += 1
        self._entries.clear()
        self._loading.clear()

    def forget_expired(self) -> None:
        """Drop entries past their TTL, so keys no longer used do not pile up."""
        now = time.monotonic()
        stale = [k for k, e in self._entries.items() if now - e.read_at >= self._ttl_s]
        for digest in stale:
            del self._entries[digest]


def is_expired(stored: StoredKey, now: datetime | None = None) -> bool:
    """Whether the key's expiry has passed (keys without one never expire)."""
    return stored.expires_at is not None and stored.expires_at <= (
        now or datetime.now(UTC)
    )


async def announce_change(redis: Redis, what: str) -> None:
    """Tell every API process to forget the keys it checked (after a commit that
    changed a key or a tenant); Redis away, their entries expire within the TTL."""
    try:
        await redis.publish(KEYS_CHANGED_CHANNEL, what)
    except RedisError:
        logger.warning("keys-changed notice not sent (%s): Redis unreachable", what)
