"""Turn one HTTP answer from OpenRouter into a Completion or an UpstreamError (pure).

The way upstream text comes in: an error's message is OpenRouter's own words when
the body is its error envelope, and a summary (status, size, an excerpt) of any
other body, which is never passed on whole. Either is redacted, then bounded, so
an upstream or proxy that quotes our request back (the Authorization header) hands
the key to no job, attempt, webhook or log.
"""

import json
from collections.abc import Mapping
from typing import cast

from shared.cost import reported_cost_usd, usage_details
from shared.redaction import Redactor
from workers.openrouter.errors import (
    UpstreamBadRequest,
    UpstreamBadResponse,
    UpstreamContextLength,
    UpstreamError,
    UpstreamForbidden,
    UpstreamModelNotFound,
    UpstreamPaymentRequired,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnauthorized,
    UpstreamUnavailable,
)
from workers.openrouter.schemas import (
    Completion,
    CompletionBody,
    ErrorBody,
    JsonObject,
)

MAX_MESSAGE_CHARS = 2000
MAX_EXCERPT_CHARS = 200  # of a body that is not OpenRouter's error envelope
PROVIDER_ERROR = "Provider returned error"  # OpenRouter's message when `raw` says more

_BY_STATUS: dict[int, type[UpstreamError]] = {
    400: UpstreamBadRequest,
    401: UpstreamUnauthorized,
    402: UpstreamPaymentRequired,
    403: UpstreamForbidden,
    404: UpstreamModelNotFound,
    408: UpstreamTimeout,
    413: UpstreamBadRequest,
    422: UpstreamBadRequest,
    429: UpstreamRateLimited,
    524: UpstreamTimeout,
}

# `error.metadata.error_type` [current] and availability codes, when they say more
# than the HTTP status does.
_BY_ERROR_TYPE: dict[str, type[UpstreamError]] = {
    "context_length_exceeded": UpstreamContextLength,
    "max_tokens_exceeded": UpstreamContextLength,
    "token_limit_exceeded": UpstreamContextLength,
    "authentication": UpstreamUnauthorized,
    "permission_denied": UpstreamForbidden,
    "content_policy_violation": UpstreamForbidden,
    "payment_required": UpstreamPaymentRequired,
    "rate_limit_exceeded": UpstreamRateLimited,
    "timeout": UpstreamTimeout,
    "invalid_request": UpstreamBadRequest,
    "not_found": UpstreamModelNotFound,
    "model_not_found": UpstreamModelNotFound,
}


def read_reply(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    latency_ms: int,
    now_s: float,
    redactor: Redactor,
) -> Completion:
    """The completion in a 2xx answer; raises the matching UpstreamError otherwise,
    its message passed through `redactor`.

    `headers` must look names up case-insensitively (httpx.Headers does);
    `now_s` is the epoch time used to turn `X-RateLimit-Reset` into a delay.
    """
    body = _parse_object(content)
    if body is None:
        if 200 <= status < 300:
            raise UpstreamBadResponse(
                "the answer is not a JSON object", http_status=status
            )
        error_class = error_class_for_status(status)
        raise error_class(summarise_body(status, content, redactor), http_status=status)
    typed = cast(CompletionBody, body)
    if 200 <= status < 300:
        error = _error_in(typed)
        if error is None:
            return _completion(typed, content, status, headers, latency_ms)
    else:
        error = typed.get("error")
    if isinstance(error, dict):
        message = _message(error, status, redactor)
    else:  # not OpenRouter's error envelope
        error, message = {}, summarise_body(status, content, redactor)
    raise _error_from(status, error, headers, typed, message=message, now_s=now_s)


def summarise_body(status: int, content: bytes, redactor: Redactor) -> str:
    """What an answer that is not OpenRouter's error envelope said, in one line:
    its status, size and the start of its text, redacted."""
    text = content.decode("utf-8", errors="replace")
    excerpt = redactor.excerpt(text, max_chars=MAX_EXCERPT_CHARS) or "(empty body)"
    return f"OpenRouter answered {status} ({len(content)} bytes): {excerpt}"


def error_class_for_status(status: int) -> type[UpstreamError]:
    """The error an HTTP status stands for when the body says nothing more."""
    known = _BY_STATUS.get(status)
    if known is not None:
        return known
    if status >= 500:
        return UpstreamUnavailable
    if status >= 400:
        return UpstreamRejected
    return UpstreamBadResponse


def retry_after_s(
    headers: Mapping[str, str], metadata: JsonObject, *, now_s: float
) -> float | None:
    """Seconds to wait from `Retry-After`, else from `X-RateLimit-Reset` (epoch ms)."""
    seconds = _number(headers.get("retry-after"))
    if seconds is not None:
        return max(0.0, seconds)
    embedded = metadata.get("headers")
    reset_ms = _number(headers.get("x-ratelimit-reset"))
    if reset_ms is None and isinstance(embedded, dict):
        lowered = {str(name).lower(): value for name, value in embedded.items()}
        reset_ms = _number(lowered.get("x-ratelimit-reset"))
    if reset_ms is None:
        return None
    return max(0.0, reset_ms / 1000 - now_s)


def _parse_object(content: bytes) -> JsonObject | None:
    try:
        # json.loads skips the leading whitespace OpenRouter may send as keep-alive.
        body = json.loads(content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _error_in(body: CompletionBody) -> ErrorBody | None:
    """The error a 200 carries: top level, or a choice that finished with "error"."""
    if "error" in body:
        return body["error"]
    for choice in body.get("choices") or []:
        if isinstance(choice, dict) and choice.get("finish_reason") == "error":
            fallback = ErrorBody(message="the provider failed mid-generation")
            return choice.get("error", fallback)
    return None


def _error_from(
    status: int,
    error: ErrorBody,
    headers: Mapping[str, str],
    body: CompletionBody,
    *,
    message: str,
    now_s: float,
) -> UpstreamError:
    metadata = _metadata(error)
    error_class = _classify(status, error, metadata, message)
    return error_class(
        message,
        http_status=status,
        retry_after_s=retry_after_s(headers, metadata, now_s=now_s),
        cost_usd=reported_cost_usd(body.get("usage")),
    )


def _classify(
    status: int, error: ErrorBody, metadata: JsonObject, message: str
) -> type[UpstreamError]:
    error_type = metadata.get("error_type") or _availability_code(error)
    by_type = _BY_ERROR_TYPE.get(str(error_type)) if error_type else None
    if by_type is not None:
        return by_type
    code = error.get("code")
    if 200 <= status < 300:
        # A failure after generation began: trust its code, else assume it heals.
        return (
            error_class_for_status(code)
            if isinstance(code, int)
            else UpstreamUnavailable
        )
    if status == 400:
        return _refine_bad_request(message)
    return error_class_for_status(status)


def _refine_bad_request(message: str) -> type[UpstreamError]:
    lowered = message.lower()
    if "not a valid model" in lowered:
        return UpstreamModelNotFound
    if "context length" in lowered or "context_length" in lowered:
        return UpstreamContextLength
    return UpstreamBadRequest


def _availability_code(error: ErrorBody) -> object:
    availability = cast(JsonObject, error).get("availability")
    return availability.get("code") if isinstance(availability, dict) else None


def _metadata(error: ErrorBody) -> JsonObject:
    metadata = error.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _message(error: ErrorBody, status: int, redactor: Redactor) -> str:
    """OpenRouter's words (with the provider's when it only says "Provider
    returned error"), redacted, then bounded."""
    message = str(error.get("message") or f"OpenRouter answered {status}")
    raw = _metadata(error).get("raw")
    if raw and message.startswith(PROVIDER_ERROR):
        message = f"{message}: {raw}"
    return redactor.excerpt(message, max_chars=MAX_MESSAGE_CHARS)


def _completion(
    body: CompletionBody,
    content: bytes,
    status: int,
    headers: Mapping[str, str],
    latency_ms: int,
) -> Completion:
    usage = body.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    return Completion(
        body=cast(JsonObject, body),
        body_json=content.decode("utf-8").strip(),
        http_status=status,
        latency_ms=latency_ms,
        generation_id=_text(body.get("id")) or _text(headers.get("x-generation-id")),
        model=_text(body.get("model")),
        provider=_text(body.get("provider")),
        prompt_tokens=_whole(usage.get("prompt_tokens")),
        completion_tokens=_whole(usage.get("completion_tokens")),
        cost_usd=reported_cost_usd(usage),
        details=usage_details(usage),
    )


def _number(value: object) -> float | None:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except ValueError:
        return None  # e.g. an HTTP-date Retry-After, which OpenRouter does not send


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
