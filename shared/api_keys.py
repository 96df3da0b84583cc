"""API keys: generated with a visible prefix; only the prefix and a hash are stored."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

KEY_PREFIX = "hqk_"
PREFIX_CHARS = 12  # what is stored in clear and used to find the row
MIN_KEY_CHARS = 20


class KeyScope(StrEnum):
    """What a key may do; a key stored without scopes may do all three."""

    READ = "read"  # GET and HEAD on the tenant's resources
    SUBMIT = "submit"  # every other method: jobs, batches, files, cancels, webhooks
    KEYS = "keys"  # the tenant's own keys and audit trail (/v1/keys, /v1/audit)


ALL_SCOPES = frozenset(KeyScope)
_KEY_PATHS = ("/v1/keys", "/v1/audit")


def scope_for(method: str, path: str) -> KeyScope:
    """The scope a request needs."""
    if any(path == root or path.startswith(root + "/") for root in _KEY_PATHS):
        return KeyScope.KEYS
    return KeyScope.READ if method in {"GET", "HEAD"} else KeyScope.SUBMIT


@dataclass(frozen=True)
class IssuedKey:
    key: str  # shown once, never stored
    prefix: str
    key_hash: str


def hash_api_key(key: str) -> str:
    """SHA-256 is enough for keys with 200+ bits of entropy (no password stretching)."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    return key[:PREFIX_CHARS]


def generate_api_key() -> IssuedKey:
    """A new random key `hqk_<8 chars>_<40 chars>`."""
    key = f"{KEY_PREFIX}{secrets.token_hex(4)}_{secrets.token_urlsafe(30)}"
    return IssuedKey(key=key, prefix=key_prefix(key), key_hash=hash_api_key(key))


def issued_from(key: str) -> IssuedKey:
    """An operator-chosen key (from the environment) in stored form."""
    if len(key) < MIN_KEY_CHARS:
        raise ValueError(f"an API key needs at least {MIN_KEY_CHARS} characters")
    return IssuedKey(key=key, prefix=key_prefix(key), key_hash=hash_api_key(key))


def matches(key: str, key_hash: str) -> bool:
    """Constant-time comparison of a presented key with a stored hash."""
    return hmac.compare_digest(hash_api_key(key), key_hash)
