"""Raw ASGI types, and answering with the error envelope from a middleware, where
FastAPI's exception handlers do not reach."""

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from broker_api.errors import error_body, headers_for, status_for
from shared.errors import BrokerError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_error(send: Send, error: BrokerError) -> None:
    """Answer `error` in the envelope with the status the error handler would use."""
    body = json.dumps(error_body(error.code, error.message, error.details)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    for name, value in (headers_for(error) or {}).items():
        headers.append((name.lower().encode(), value.encode()))
    await send(
        {"type": "http.response.start", "status": status_for(error), "headers": headers}
    )
    await send({"type": "http.response.body", "body": body})
