"""Bearer-key checks, answered with OpenRouter's two 401 bodies."""

from aiohttp import web

from simulator.errors import SimError
from simulator.settings import SimulatorSettings

KEY_PREFIX = "sk-or-"


def authenticate(request: web.Request, settings: SimulatorSettings) -> str:
    """Return the caller's key, or raise the 401 OpenRouter would send."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise SimError(401, "No auth credentials found", is_authenticated=False)
    is_known = (
        key in settings.api_keys if settings.api_keys else key.startswith(KEY_PREFIX)
    )
    if not is_known:
        raise SimError(401, "User not found.", is_authenticated=False)
    return key


def key_label(key: str) -> str:
    """Show a key the way OpenRouter labels it: `sk-or-v1-0e6...1c96`."""
    return f"{key[:12]}...{key[-4:]}" if len(key) > 16 else key
