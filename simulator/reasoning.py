"""Reasoning: what the request asks for and how many tokens a model reasons.

A model reasons when its catalog entry supports it and the request asks (`reasoning`,
`reasoning_effort`, or the legacy `include_reasoning: true`); a `:thinking` variant
reasons unless told not to. The effort is a share of the output budget, as OpenRouter
documents; `reasoning.max_tokens` sets the count outright.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from simulator.catalog import ModelEntry
from simulator.errors import SimError

DEFAULT_EFFORT = "medium"
_EFFORT_SHARES = MappingProxyType(
    {
        "none": 0.0,
        "minimal": 0.1,
        "low": 0.2,
        "medium": 0.5,
        "high": 0.8,
        "xhigh": 0.95,
        "max": 0.95,
    }
)


@dataclass(frozen=True, slots=True)
class ReasoningAsk:
    """What the request says about reasoning; None: it says nothing."""

    is_asked: bool | None = None
    effort: str = DEFAULT_EFFORT
    max_tokens: int | None = None
    is_excluded: bool = False


NOT_ASKED = ReasoningAsk()
_REASONING_FIELDS = frozenset({"reasoning", "reasoning_effort", "include_reasoning"})


def _bad(message: str) -> SimError:
    return SimError(400, message)


def _effort(value: object, name: str) -> str:
    if value not in _EFFORT_SHARES:
        raise _bad(f"{name} must be one of {', '.join(_EFFORT_SHARES)}")
    return str(value)


def _flag(value: object, name: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise _bad(f"{name} must be a boolean")
    return value


def _max_tokens(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _bad("reasoning.max_tokens must be an integer of at least 1")
    return value


def parse_reasoning(body: Mapping[str, Any]) -> ReasoningAsk:
    """Read `reasoning`, `reasoning_effort` and `include_reasoning`, or raise a 400."""
    if not _REASONING_FIELDS.intersection(body):
        return NOT_ASKED
    raw = body.get("reasoning")
    if raw is not None and not isinstance(raw, dict):
        raise _bad('reasoning must be an object such as {"effort": "high"}')
    raw = raw or {}
    shorthand = body.get("reasoning_effort")
    if shorthand is not None:
        shorthand = _effort(shorthand, "reasoning_effort")
    effort = raw.get("effort")
    # The object wins over the shorthand when both are sent.
    effort = shorthand if effort is None else _effort(effort, "reasoning.effort")
    max_tokens = _max_tokens(raw.get("max_tokens"))
    enabled = _flag(raw.get("enabled"), "reasoning.enabled")
    legacy = _flag(body.get("include_reasoning"), "include_reasoning")
    is_asked = enabled
    if is_asked is None and (effort is not None or max_tokens is not None):
        is_asked = effort != "none"
    if is_asked is None:
        is_asked = legacy
    return ReasoningAsk(
        is_asked=is_asked,
        effort=effort or DEFAULT_EFFORT,
        max_tokens=max_tokens,
        is_excluded=_flag(raw.get("exclude"), "reasoning.exclude") is True,
    )


def reasoning_tokens(ask: ReasoningAsk, model: ModelEntry, budget_tokens: int) -> int:
    """How many tokens the model reasons: a share of `budget_tokens` by effort."""
    if not model.supports_reasoning:
        return 0  # the parameter is ignored, as upstream does
    is_reasoning = ask.is_asked
    if is_reasoning is None:
        is_reasoning = model.is_thinking_variant
    if not is_reasoning:
        return 0
    if ask.max_tokens is not None:
        return ask.max_tokens
    share = _EFFORT_SHARES[ask.effort]
    return max(round(share * budget_tokens), 1) if share else 0
