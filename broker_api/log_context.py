"""Tags every log line of a request with its tenant and job id (shared.logging_setup).

The middleware opens a fresh context per request, so nothing leaks between
requests served by one task; authentication binds the tenant (broker_api.deps).
"""

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.logging_setup import bind_job, log_context

_JOB_PATH = re.compile(r"^/v1/jobs/(?P<job_id>[0-9a-fA-F-]{36})(?:/|$)")


class LogContextMiddleware:
    """Pure ASGI middleware: a log context per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with log_context():
            match = _JOB_PATH.match(scope.get("path", ""))
            if match:
                bind_job(match["job_id"])
            await self.app(scope, receive, send)
