"""Read a `POST /batches` body in OpenRouter's order of checks.

OpenRouter stream-parses the body, so `endpoint` and `model` must come before
`requests` (else its one 400 for both). Its documents also put `callback_url`
before `requests`; a callback that would be missed is refused here, so a client
that breaks the order finds out in tests rather than by losing callbacks.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from simulator.batches.batch import COMPLETION_WINDOW, Line
from simulator.batches.lines import read_lines
from simulator.catalog import BATCH_SUFFIX, ModelEntry
from simulator.errors import SimError
from simulator.state import SimulatorState

CHAT_ENDPOINT = "/v1/chat/completions"
ENDPOINTS = (CHAT_ENDPOINT, "/v1/responses", "/v1/messages", "/v1/embeddings")
ORDER_MESSAGE = (
    "endpoint and model are required and must appear before requests "
    "in the request body"
)
_PROVIDER_KEYS = frozenset({"only", "allow_fallbacks"})
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class Submission:
    """An accepted create body: what the batch is made of."""

    endpoint: str
    model: str
    variant: ModelEntry
    served: ModelEntry
    callback_url: str | None
    lines: tuple[Line, ...]


def _decode(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        raise SimError(400, "Invalid JSON in request body") from None
    if not isinstance(body, dict):
        raise SimError(400, "Request body must be a JSON object")
    return body


def _check_order(body: Mapping[str, Any]) -> None:
    """Keys keep the body's order: `requests` must follow the fields read first."""
    keys = list(body)
    if "endpoint" not in keys or "model" not in keys:
        raise SimError(400, ORDER_MESSAGE)
    if "requests" not in keys:
        return
    requests_at = keys.index("requests")
    if requests_at < max(keys.index("endpoint"), keys.index("model")):
        raise SimError(400, ORDER_MESSAGE)
    if "callback_url" in keys and keys.index("callback_url") > requests_at:
        raise SimError(
            400, "callback_url must appear before requests in the request body"
        )


def _endpoint(body: Mapping[str, Any]) -> str:
    endpoint = body["endpoint"]
    if endpoint not in ENDPOINTS:
        raise SimError(400, f"endpoint must be one of {', '.join(ENDPOINTS)}")
    if endpoint != CHAT_ENDPOINT:
        raise SimError(
            400,
            f"The helixq simulator serves {CHAT_ENDPOINT} batches only, not {endpoint}",
        )
    return str(endpoint)


def _models(model: object, state: SimulatorState) -> tuple[ModelEntry, ModelEntry]:
    """The `:batch` entry and the model serving it; base and variant slugs both work."""
    if not isinstance(model, str):
        raise SimError(400, "model must be a string")
    base = model.removesuffix(BATCH_SUFFIX)
    variant = state.catalog.find(base + BATCH_SUFFIX)
    served = state.catalog.find(base)
    if variant is None or not variant.is_batch_only or served is None:
        raise SimError(400, f"Model '{model}' does not have a :batch endpoint.")
    return variant, served


def _check_window(body: Mapping[str, Any]) -> None:
    window = body.get("completion_window", COMPLETION_WINDOW)
    if window != COMPLETION_WINDOW:
        raise SimError(400, f'completion_window must be "{COMPLETION_WINDOW}"')


def _check_provider(body: Mapping[str, Any], model: str, variant: ModelEntry) -> None:
    provider = body.get("provider")
    if provider is None:
        return
    if not isinstance(provider, dict) or not set(provider) <= _PROVIDER_KEYS:
        raise SimError(
            400, "provider supports only 'only' and 'allow_fallbacks' in batches"
        )
    only = provider.get("only")
    if only is None:
        return
    if not isinstance(only, list) or not all(isinstance(slug, str) for slug in only):
        raise SimError(400, "provider.only must be an array of provider slugs")
    if variant.provider.slug not in only:
        raise SimError(
            404,
            f"Model '{model}' does not have an eligible :batch endpoint matching "
            f"provider.only: {', '.join(only)}",
        )


def _callback_url(body: Mapping[str, Any]) -> str | None:
    url = body.get("callback_url")
    if url is None:
        return None
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
    except ValueError:  # an unclosed IPv6 bracket, for one
        parts = None
    is_https = parts is not None and parts.scheme == "https" and bool(parts.hostname)
    is_local = (
        parts is not None
        and parts.scheme == "http"
        and parts.hostname in _LOOPBACK_HOSTS
    )
    if not (is_https or is_local):
        raise SimError(
            400,
            "callback_url must be an HTTPS URL (the simulator also takes http to a "
            "loopback host, for local stacks)",
        )
    return str(url)


def _requests(body: Mapping[str, Any], limit: int) -> list[object]:
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise SimError(400, "requests must be a non-empty array")
    if len(requests) > limit:
        raise SimError(
            400, f"A batch holds at most {limit} requests; this one has {len(requests)}"
        )
    return requests


def parse_submission(raw: bytes, state: SimulatorState) -> Submission:
    """Check a create body; raise SimError (400, 404, 422) as OpenRouter would."""
    body = _decode(raw)
    _check_order(body)
    endpoint = _endpoint(body)
    model = body["model"]
    variant, served = _models(model, state)
    _check_window(body)
    _check_provider(body, model, variant)
    callback_url = _callback_url(body)
    requests = _requests(body, state.settings.batch_max_requests)
    lines = read_lines(requests, batch_model=model, served=served, state=state)
    return Submission(endpoint, model, variant, served, callback_url, lines)
