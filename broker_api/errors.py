"""The only place that maps errors to HTTP: one envelope for every endpoint,
`{"error": {"code", "message", "details"}}`, the shape OpenAI-style clients parse."""

import logging
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg_pool
import redis.exceptions
import sqlalchemy.exc
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
    (errors.FileTooLarge, 413),
    (errors.InvalidRequest, 422),
    (errors.UnsupportedMediaType, 415),
    (errors.TooManyAuthFailures, 429),
    (errors.Unavailable, 503),
    (errors.BudgetExceeded, 402),
    (errors.QuotaExceeded, 429),
]

# Postgres or Redis out of reach: the client should come back, not see a 500.
UNAVAILABLE_ERRORS: dict[type[Exception], str] = {
    sqlalchemy.exc.OperationalError: "the database",
    sqlalchemy.exc.InterfaceError: "the database",
    sqlalchemy.exc.TimeoutError: "the database",
    psycopg.OperationalError: "the database",
    psycopg_pool.PoolTimeout: "the database",
    redis.exceptions.ConnectionError: "the queue store",
    redis.exceptions.TimeoutError: "the queue store",
}
UNAVAILABLE_RETRY_AFTER_S = 5

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

# A request that fails its schema; a batch line that does says the same.
VALIDATION_ERROR = "validation_error"

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


def headers_for(error: errors.BrokerError) -> dict[str, str] | None:
    if status_for(error) == 401:
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(error, errors.TooManyAuthFailures | errors.Unavailable):
        return {"Retry-After": str(error.retry_after_s)}
    if isinstance(error, errors.QuotaExceeded) and error.retry_after_s is not None:
        return {"Retry-After": str(error.retry_after_s)}
    return None


@dataclass(frozen=True)
class ErrorReply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] | None = None


def reply_for(exc: Exception, method: str, path: str) -> ErrorReply:
    """The answer to an error raised while handling `method path`: a BrokerError's
    own status, a 503 for Postgres or Redis out of reach, else a logged 500. The
    exception handlers and the hot path (broker_api.hot_path) both answer so."""
    if isinstance(exc, errors.BrokerError):
        return ErrorReply(
            status_for(exc),
            error_body(exc.code, exc.message, exc.details),
            headers_for(exc),
        )
    what = next(
        (name for kind, name in UNAVAILABLE_ERRORS.items() if isinstance(exc, kind)),
        None,
    )
    if what is not None:
        # The driver's message can carry host names and users: log it, do not
        # answer it.
        logger.warning("%s unreachable on %s %s: %s", what, method, path, exc)
        return reply_for(
            errors.Unavailable(what, UNAVAILABLE_RETRY_AFTER_S), method, path
        )
    # The process edge: log with the path, answer without internals.
    logger.error("unhandled error on %s %s", method, path, exc_info=exc)
    return ErrorReply(
        500, error_body("internal_error", "the server failed to handle this request")
    )


async def _reply(request: Request, exc: Exception) -> JSONResponse:
    reply = reply_for(exc, request.method, request.url.path)
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)


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
        error_body(VALIDATION_ERROR, f"invalid request: {summary}", {"fields": fields}),
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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.BrokerError, _reply)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for kind in UNAVAILABLE_ERRORS:
        app.add_exception_handler(kind, _reply)
    app.add_exception_handler(Exception, _reply)
