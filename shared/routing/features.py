"""What routing needs to know about a request, read from the request alone.

Token counts are estimates (a token per 4 characters plus a per-message overhead):
good enough to rule out models whose context is too small and to compare prices.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
# Expected output when the request sets no limit: only used to compare prices.
DEFAULT_OUTPUT_TOKENS = 256
LONG_CONTEXT_TOKENS = 16_000

_CODE_PATTERN = re.compile(
    r"```|\bdef \w+\(|\bclass \w+[:(]|\bimport \w+|#include\s*<|\bfunction \w*\(|"
    r"=>\s*\{|\bSELECT .+ FROM\b|\bpublic static\b|\bfn \w+\(",
)
_REASONING_PATTERN = re.compile(
    r"\b(step by step|prove|proof|derive|reason(ing)? (about|through)|"
    r"think (carefully|through)|explain why|trade-?offs?|puzzle|riddle)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class RequestFeatures:
    """Sizes and needs of one chat-completion request."""

    prompt_tokens: int
    max_output_tokens: int | None  # the request's own limit, if any
    has_tools: bool
    has_response_format: bool
    has_code: bool
    wants_reasoning: bool

    @property
    def context_tokens(self) -> int:
        """Tokens the model's context must hold: the prompt plus the output limit."""
        return self.prompt_tokens + (self.max_output_tokens or 0)

    @property
    def expected_output_tokens(self) -> int:
        """Output tokens to price a call with."""
        return self.max_output_tokens or DEFAULT_OUTPUT_TOKENS

    @property
    def is_long_context(self) -> bool:
        return self.context_tokens >= LONG_CONTEXT_TOKENS


def message_text(content: object) -> str:
    """A message's text, whether `content` is a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""


def estimate_prompt_tokens(messages: list[object]) -> int:
    """About a token per 4 characters, plus a few tokens of framing per message."""
    chars = sum(
        len(message_text(message.get("content")))
        for message in messages
        if isinstance(message, Mapping)
    )
    return math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * len(messages)


def estimate_input_tokens(embedding_input: object) -> int:
    """An embeddings `input`'s tokens: a token per 4 characters of its strings, or
    its token ids counted as given."""
    items = embedding_input if isinstance(embedding_input, list) else [embedding_input]
    tokens = 0
    for item in items:
        if isinstance(item, str):
            tokens += math.ceil(len(item) / CHARS_PER_TOKEN)
        elif isinstance(item, list):
            tokens += len(item)
        elif isinstance(item, int):
            tokens += 1
    return tokens


def estimate_request_tokens(request: Mapping[str, object]) -> int:
    """The prompt tokens of a stored request: its messages, or an embeddings input."""
    messages = request.get("messages")
    if isinstance(messages, list):
        return estimate_prompt_tokens(messages)
    return estimate_input_tokens(request.get("input"))


def extract_features(request: Mapping[str, object]) -> RequestFeatures:
    """Read a chat-completion or embeddings body (a dict as stored in
    `jobs.request`)."""
    raw_messages = request.get("messages")
    messages = raw_messages if isinstance(raw_messages, list) else []
    text = "\n".join(
        message_text(message.get("content"))
        for message in messages
        if isinstance(message, Mapping)
    )
    return RequestFeatures(
        prompt_tokens=estimate_request_tokens(request),
        max_output_tokens=_output_limit(request),
        has_tools=bool(request.get("tools")),
        has_response_format=_wants_structured_output(request.get("response_format")),
        has_code=_CODE_PATTERN.search(text) is not None,
        wants_reasoning=bool(
            request.get("reasoning") or request.get("reasoning_effort")
        )
        or _REASONING_PATTERN.search(text) is not None,
    )


def _output_limit(request: Mapping[str, object]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = request.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _wants_structured_output(response_format: object) -> bool:
    # `{"type": "text"}` is the default and asks nothing of the model.
    return isinstance(response_format, Mapping) and response_format.get("type") in {
        "json_object",
        "json_schema",
    }
