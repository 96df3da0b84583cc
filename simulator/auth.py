"""Bearer-key checks, answered with OpenRouter's two 401 bodies."""

from aiohttp import web

from simulator.errors import SimError
from simulator.settings import SimulatorSettings

KEY_PREFIX = "sk-or-"


def authenticate(request: web.Request, settings: SimulatorSettings) -> str:
    """Return the caller's key, or raise the 401 OpenRouter would send."""
    key = bearer_key(request)
    if key is None:
        raise SimError(401, "No auth credentials found", is_authenticated=False)
    is_known = (
        key in settings.api_keys if settings.api_keys else key.startswith(KEY_PREFIX)
    )
    if not is_known:
        raise SimError(401, "User not found.", is_authenticated=False)
    return key


def bearer_key(request: web.Request) -> str | None:
    """The key a request was sent with, unchecked (None without one)."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


MANAGEMENT_ONLY = "Only management keys can perform this operation"


def authenticate_management(request: web.Request, settings: SimulatorSettings) -> str:
    """Return the caller's key if it may read the account's figures (`/credits`,
    `/activity`), or raise OpenRouter's 401 or 403."""
    if not settings.management_keys:
        return authenticate(request, settings)  # any valid key, unless configured
    key = bearer_key(request)
    if key is None:
        raise SimError(401, "No auth credentials found", is_authenticated=False)
    if key not in settings.management_keys:
        authenticate(request, settings)  # an unknown key is a 401 first
        raise SimError(403, MANAGEMENT_ONLY)
    return key


def key_label(key: str) -> str:
    """Show a key the way OpenRouter labels it: `sk-or-v1-0e6...1c96`."""
    return f"{key[:12]}...{key[-4:]}" if len(key) > 16 else key
