"""multi_model's request classes, decided from the request's own features.

The first rule that matches wins, in this order (a harder requirement first):

1. long_context: the prompt plus the output limit is at least 16,000 tokens;
   a small-context model cannot serve it whatever its other strengths.
2. structured: the request sends `tools` or a JSON `response_format`; it needs a
   model that follows schemas.
3. code: a code fence or a code-shaped line (`def f(`, `import x`, `#include <`).
4. reasoning: a `reasoning`/`reasoning_effort` field, or words that ask for it
   ("step by step", "prove", "explain why", "trade-offs").
5. chat: everything else.
"""

from enum import StrEnum
from typing import NamedTuple

from shared.routing.features import LONG_CONTEXT_TOKENS, RequestFeatures


class RequestClass(StrEnum):
    LONG_CONTEXT = "long_context"
    STRUCTURED = "structured"
    CODE = "code"
    REASONING = "reasoning"
    CHAT = "chat"


class Classification(NamedTuple):
    request_class: RequestClass
    reason: str


def classify(features: RequestFeatures) -> Classification:
    """The request's class and the rule that decided it."""
    if features.is_long_context:
        return Classification(
            RequestClass.LONG_CONTEXT,
            f"~{features.context_tokens} tokens >= {LONG_CONTEXT_TOKENS}",
        )
    if features.has_tools or features.has_response_format:
        what = "tools" if features.has_tools else "response_format"
        return Classification(RequestClass.STRUCTURED, f"sends {what}")
    if features.has_code:
        return Classification(RequestClass.CODE, "code in the prompt")
    if features.wants_reasoning:
        return Classification(RequestClass.REASONING, "asks for reasoning")
    return Classification(RequestClass.CHAT, "no special need")
