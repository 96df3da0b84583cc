"""OpenRouter's error envelope: `{"error": {code, message, metadata}, "user_id"}`.

SimError is the only error the handlers raise on purpose; `error_response` renders it.
"""

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

USER_ID = "user_sim"  # the one account every accepted key belongs to


class SimError(Exception):
    """An error answer: HTTP status, message, optional metadata and headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        is_authenticated: bool = True,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.metadata = metadata
        self.headers = headers or {}
        self.is_authenticated = is_authenticated


def json_response(
    payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Answer with a JSON body, serialised without validation to keep CPU low."""
    return web.Response(
        body=json.dumps(payload).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def error_body(error: SimError) -> dict[str, Any]:
    """Build the envelope; `user_id` only once the caller is known."""
    detail: dict[str, Any] = {"code": error.status, "message": error.message}
    if error.metadata is not None:
        detail["metadata"] = dict(error.metadata)
    body: dict[str, Any] = {"error": detail}
    if error.is_authenticated:
        body["user_id"] = USER_ID
    return body


def error_response(error: SimError) -> web.Response:
    """Render a SimError as OpenRouter does."""
    return json_response(error_body(error), status=error.status, headers=error.headers)
