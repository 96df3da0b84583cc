"""Strategy names from clients, tenants and operators, with "did you mean" help."""

import difflib
from collections.abc import Iterable

from shared.errors import InvalidRequest
from shared.strategies import FallbackStrategy, ModelSubstitution, RouteStrategy

MAX_SUGGESTIONS = 3


def close_matches(word: str, choices: Iterable[str]) -> list[str]:
    """Up to three known names that look like `word`, best first."""
    return difflib.get_close_matches(word, list(choices), n=MAX_SUGGESTIONS, cutoff=0.5)


def unknown_name_error(
    kind: str, field: str, value: str, known: Iterable[str]
) -> InvalidRequest:
    """The 422 for a name that is not one of `known`, with close matches."""
    known = list(known)
    suggestions = close_matches(value, known)
    hint = f"; did you mean {', '.join(map(repr, suggestions))}?" if suggestions else ""
    return InvalidRequest(
        f"unknown {kind} {value!r}{hint}",
        details={"field": field, "value": value, "suggestions": suggestions},
    )


def parse_strategy(value: str, *, field: str = "route.strategy") -> RouteStrategy:
    """A route strategy by name; unknown raises InvalidRequest, never a default."""
    try:
        return RouteStrategy(value)
    except ValueError:
        raise unknown_name_error(
            "routing strategy", field, value, [s.value for s in RouteStrategy]
        ) from None


def parse_fallback(value: str, *, field: str = "route.fallback") -> FallbackStrategy:
    """A fallback strategy by name; an unknown name raises InvalidRequest."""
    try:
        return FallbackStrategy(value)
    except ValueError:
        raise unknown_name_error(
            "fallback strategy", field, value, [s.value for s in FallbackStrategy]
        ) from None


def parse_substitution(
    value: str, *, field: str = "route.model_substitution"
) -> ModelSubstitution:
    """A model substitution by name; an unknown name raises InvalidRequest."""
    try:
        return ModelSubstitution(value)
    except ValueError:
        raise unknown_name_error(
            "model substitution", field, value, [s.value for s in ModelSubstitution]
        ) from None
