"""OpenRouter keys a tenant's calls go out with: their shape, label and hint (pure).

A key is a secret: stored sealed (shared.sealing), shown only as its hint (the
`sk-or-v1-` prefix and its last four characters) and known to the limits, logs and
Redis by its label, a short fingerprint from which the key cannot be recovered.
Tenants sharing one key share its label, and so its capacity.
"""

import hashlib
import re

OPENROUTER_KEY_PREFIX = "sk-or-v1-"
# OpenRouter's keys are `sk-or-v1-` and 64 hex characters; what follows the
# prefix is not promised, so only its alphabet and a length are checked.
_SHAPE = re.compile(r"sk-or-v1-[A-Za-z0-9_-]{16,200}")
SHAPE_HELP = f"an OpenRouter key looks like {OPENROUTER_KEY_PREFIX}<64 hex characters>"
LABEL_CHARS = 12


def is_openrouter_key(value: str) -> bool:
    """Whether `value` has the shape of an OpenRouter API key."""
    return _SHAPE.fullmatch(value) is not None


def key_label(key: str) -> str:
    """The key's fingerprint (12 hex characters of its SHA-256): what limits,
    logs and Redis know it by."""
    return hashlib.sha256(key.encode()).hexdigest()[:LABEL_CHARS]


def key_hint(key: str) -> str:
    """What is ever shown of a key: `sk-or-v1-...1c96`."""
    return f"{OPENROUTER_KEY_PREFIX}...{key[-4:]}"
