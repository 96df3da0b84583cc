"""The OpenAI-shaped endpoints a job can be for, and how its stored request says
which: chat completions carry `messages`, embeddings carry `input` and never
`messages` (shared.schemas requires one or the other)."""

from collections.abc import Mapping
from enum import StrEnum


class Endpoint(StrEnum):
    CHAT_COMPLETIONS = "/v1/chat/completions"
    EMBEDDINGS = "/v1/embeddings"


# OpenRouter's listing names an embedding model's output modality so.
EMBEDDINGS_MODALITY = "embeddings"


def endpoint_of(request: Mapping[str, object]) -> Endpoint:
    """The endpoint a stored request (`jobs.request`) is sent to."""
    if "input" in request and "messages" not in request:
        return Endpoint.EMBEDDINGS
    return Endpoint.CHAT_COMPLETIONS


def is_embeddings(request: Mapping[str, object]) -> bool:
    return endpoint_of(request) is Endpoint.EMBEDDINGS


def endpoint_of_url(url: str) -> Endpoint | None:
    """The endpoint a batch line's `url` names (OpenRouter's `/api` prefix or not)."""
    try:
        return Endpoint(url.removeprefix("/api"))
    except ValueError:
        return None
