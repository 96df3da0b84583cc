"""The parts of OpenRouter's JSON we read, and what we keep from a completion.

The bodies are TypedDicts rather than pydantic models: they are read once per call on
the hot path, and every field is optional and checked where it is used.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import TypedDict

from shared.cost import NO_DETAILS, UsageDetails

JsonObject = dict[str, object]


class ErrorBody(TypedDict, total=False):
    code: int | str  # the HTTP status [current] or a word such as "server_error"
    message: str
    metadata: JsonObject  # raw, provider_name, error_type, headers, ...


class UsageBody(TypedDict, total=False):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float  # USD charged for this call


class ChoiceBody(TypedDict, total=False):
    index: int
    finish_reason: str | None  # "error" when the provider failed mid-generation
    message: JsonObject
    error: ErrorBody


class CompletionBody(TypedDict, total=False):
    id: str  # the generation id, gen-...
    provider: str
    model: str  # the model that actually answered
    choices: list[ChoiceBody]
    usage: UsageBody
    error: ErrorBody


@dataclass(frozen=True, slots=True)
class Completion:
    """A successful call: the body as received plus the fields the ledger needs."""

    body: JsonObject
    body_json: str  # the body's JSON text, stored as the job result without re-encoding
    http_status: int
    latency_ms: int
    generation_id: str | None
    model: str | None
    provider: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: Decimal | None
    # Milliseconds from sending the call to its first streamed chunk; None when the
    # answer was not streamed.
    first_token_ms: int | None = None
    details: UsageDetails = NO_DETAILS  # cached and reasoning tokens, BYOK, ...
