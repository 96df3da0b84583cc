"""Failures that quote the request back, as a careless upstream or proxy does.

`echo-401` answers OpenRouter's JSON error envelope with a message quoting the
Authorization header it received; `echo-502` answers a plain-text body listing every
request header. They let tests show that upstream text never carries the caller's
key any further.
"""

from aiohttp import web

from simulator.errors import SimError, error_response

UNAUTHORIZED = 401


def echo_error(status: int, request: web.Request) -> SimError:
    """The scripted failure for `status`, its text quoting the request's headers."""
    if status == UNAUTHORIZED:
        header = request.headers.get("Authorization", "")
        return SimError(status, f"Invalid credentials: {header}")
    quoted = "\n".join(f"{name}: {value}" for name, value in request.headers.items())
    text = f"{status} Bad Gateway: no answer from the provider for\n{quoted}\n"
    return SimError(status, text)


def echo_response(error: SimError) -> web.Response:
    """The 401 in OpenRouter's envelope; any other status as plain text."""
    if error.status == UNAUTHORIZED:
        return error_response(error)
    return web.Response(
        status=error.status, text=error.message, content_type="text/plain"
    )
