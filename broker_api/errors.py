"""The only place that maps errors to HTTP: one envelope for every endpoint,
`{"error": {"code", "message", "details"}}`, the shape OpenAI-style clients parse."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import errors

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: list[tuple[type[errors.BrokerError], int]] = [
    (errors.NotFound, 404),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.Conflict, 409),
    (errors.InvalidRequest, 422),
    (errors.UnsupportedMediaType, 415),
]

# A synchronous completion answers a failed job with the status an OpenAI client
# expects for that failure; upstream credential problems are the broker's (502).
JOB_ERROR_STATUS = {
    "upstream_bad_request": 400,
    "upstream_context_length": 400,
    "upstream_model_not_found": 404,
    "upstream_payment_required": 402,
    "upstream_forbidden": 403,
    "upstream_rate_limited": 429,
    "budget_exceeded": 402,
    "upstream_unauthorized": 502,
    "upstream_timeout": 504,
}
DEFAULT_JOB_ERROR_STATUS = 502

_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def status_for(error: errors.BrokerError) -> int:
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    return 400


async def _broker_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.BrokerError)
    headers = {"WWW-Authenticate": "Bearer"} if status_for(exc) == 401 else None
    return JSONResponse(
        error_body(exc.code, exc.message, exc.details),
        status_code=status_for(exc),
        headers=headers,
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {
            "field": ".".join(str(part) for part in error["loc"]),
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors()
    ]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    return JSONResponse(
        error_body(
            "validation_error", f"invalid request: {summary}", {"fields": fields}
        ),
        status_code=422,
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(
        error_body(code, str(exc.detail)),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _unexpected_error(request: Request, _exc: Exception) -> JSONResponse:
    # The process edge: log with the path, answer without internals.
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        error_body("internal_error", "the server failed to handle this request"),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.BrokerError, _broker_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
