"""Upstream failure answers, shaped like the bodies OpenRouter really sends."""

from collections.abc import Callable, Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

from simulator.catalog import ModelEntry
from simulator.chat_request import ChatRequest
from simulator.errors import SimError
from simulator.scripts import CONTEXT_LENGTH

RETRY_AFTER_S = 1
_MAX_FLAGGED_CHARS = 100
_ERROR_TYPES = MappingProxyType(
    {
        400: "invalid_request",
        404: "not_found",
        408: "timeout",
        413: "payload_too_large",
        422: "unprocessable",
        429: "rate_limit_exceeded",
        500: "server",
        502: "provider_unavailable",
        503: "provider_overloaded",
        504: "timeout",
        524: "timeout",
        529: "provider_overloaded",
    }
)
_RAW_MESSAGES = MappingProxyType(
    {
        400: "Invalid request: the provider rejected the request parameters.",
        502: "upstream connect error or disconnect/reset before headers",
        503: "Service Unavailable: the model is overloaded, retry shortly.",
    }
)


def _phrase(status: int) -> str:
    """Name a status; Cloudflare-style codes such as 524 have no stdlib name."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Upstream error"


def _retry_headers(status: int) -> Mapping[str, str]:
    """Send Retry-After where OpenRouter may: on 429 and 503."""
    return {"Retry-After": str(RETRY_AFTER_S)} if status in (429, 503) else {}


def _provider_error(status: int, _chat: ChatRequest, model: ModelEntry) -> SimError:
    """The common upstream shape: "Provider returned error" with the raw detail."""
    raw = _RAW_MESSAGES.get(status) or _phrase(status)
    metadata = {
        "raw": raw,
        "provider_name": model.provider.name,
        "is_byok": False,
        "error_type": _ERROR_TYPES.get(status, "unmapped"),
    }
    return SimError(
        status,
        "Provider returned error",
        metadata=metadata,
        headers=_retry_headers(status),
    )


def _rate_limited(status: int, _chat: ChatRequest, model: ModelEntry) -> SimError:
    """An upstream provider's 429, as captured in 2026."""
    metadata = {
        "raw": (
            f"{model.id} is temporarily rate-limited upstream. Please retry shortly."
        ),
        "provider_name": model.provider.name,
        "is_byok": False,
        "provider_error_code": "rate_limit_exceeded",
        "limit_source": "upstream_provider_shared_pool",
        "error_type": "rate_limit_exceeded",
    }
    return SimError(
        status,
        "Provider returned error",
        metadata=metadata,
        headers=_retry_headers(status),
    )


def _server_error(status: int, _chat: ChatRequest, model: ModelEntry) -> SimError:
    """A 500: the message is generic and the provider code is left out."""
    metadata = {"provider_name": model.provider.name, "error_type": "server"}
    return SimError(status, "Internal Server Error", metadata=metadata)


def _out_of_credits(status: int, _chat: ChatRequest, _model: ModelEntry) -> SimError:
    """A scripted 402, as if the balance had run out."""
    return SimError(
        status,
        "Insufficient credits. Add more using https://openrouter.ai/credits",
        metadata={"limit_source": "openrouter_credits"},
    )


def flagged_excerpt(text: str) -> str:
    """Cut a flagged input to 100 characters in the middle, as moderation does."""
    if len(text) <= _MAX_FLAGGED_CHARS:
        return text
    head = (_MAX_FLAGGED_CHARS - 3) // 2
    tail = _MAX_FLAGGED_CHARS - 3 - head
    return f"{text[:head]}...{text[-tail:]}"


def _moderated(status: int, chat: ChatRequest, model: ModelEntry) -> SimError:
    """A moderation flag (403) with reasons and the flagged input."""
    provider = model.provider.name
    message = (
        f"{model.id} requires moderation on {provider}. "
        'Your input was flagged for "harassment".'
    )
    metadata = {
        "reasons": ["harassment"],
        "flagged_input": flagged_excerpt(chat.last_user_text),
        "provider_name": provider,
        "model_slug": model.id,
    }
    return SimError(status, message, metadata=metadata)


def context_length_error(chat: ChatRequest, model: ModelEntry) -> SimError:
    """The 400 for a prompt plus output that does not fit the context window."""
    output = chat.max_output_tokens or 0
    message = (
        f"This endpoint's maximum context length is {model.context_length} tokens. "
        f"However, you requested about {chat.prompt_tokens + output} tokens "
        f"({chat.prompt_tokens} of text input, {output} in the output). "
        'Please reduce the length of either one, or use the "middle-out" '
        "transform to compress your prompt automatically."
    )
    metadata = {
        "provider_name": model.provider.name,
        "error_type": "context_length_exceeded",
    }
    return SimError(400, message, metadata=metadata)


_Builder = Callable[[int, ChatRequest, ModelEntry], SimError]
_BUILDERS: Mapping[int, _Builder] = MappingProxyType(
    {
        402: _out_of_credits,
        403: _moderated,
        429: _rate_limited,
        500: _server_error,
    }
)


def upstream_error(failure: str, chat: ChatRequest, model: ModelEntry) -> SimError:
    """Build the error a scripted failure answers with."""
    if failure == CONTEXT_LENGTH:
        return context_length_error(chat, model)
    status = int(failure)
    return _BUILDERS.get(status, _provider_error)(status, chat, model)


_MIDSTREAM_MESSAGES = MappingProxyType({429: "Rate limit exceeded"})


def midstream_error(status: int) -> dict[str, Any]:
    """The `error` of a provider that failed after generation started.

    Server errors get a generic message and no provider code, as OpenRouter sends.
    """
    error_type = _ERROR_TYPES.get(status, "unmapped")
    if status >= 500:
        return {
            "code": status,
            "message": "Provider returned error",
            "metadata": {"error_type": error_type},
        }
    return {
        "code": status,
        "message": _MIDSTREAM_MESSAGES.get(status) or _phrase(status),
        "metadata": {"error_type": error_type, "provider_code": error_type},
    }


def is_fallback_worthy(failure: str) -> bool:
    """Say whether the next `models` entry is tried; credits are account-wide."""
    return failure != "402"
