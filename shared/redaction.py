"""Masking secrets out of text before it is logged, stored or served.

One redaction for every way out: log records (RedactionFilter, on each handler),
the upstream error text a worker stores (workers.openrouter.responses) and the
error text the API serves. Known shapes are masked wherever they appear (OpenRouter
keys `sk-or-…` and other providers' `sk-…`, our API keys `hqk_…`, webhook secrets
`whsec_…`, bearer tokens, the value of an Authorization or API-key header).
Configured values (the OpenRouter key, the admin token), which may have any shape,
are masked verbatim, URL- or JSON-encoded, and cut short.
"""

import json
import logging
import re
import traceback
from collections.abc import Iterable
from typing import Annotated, Any, TypeAlias
from urllib.parse import quote

from pydantic import AfterValidator

MASK = "***"
# Shorter values would mask ordinary words; real secrets are far longer.
MIN_SECRET_CHARS = 8
# A configured secret cut short is masked while this much of its start shows;
# OpenRouter itself labels a key by its first 12 characters.
PARTIAL_SECRET_CHARS = 12
# How much more than an excerpt's length is redacted before it is cut, so that a
# secret straddling the cut is whole when redacted.
_EXCERPT_WINDOW_FACTOR = 8

# A token runs to a space, quote, separator or bracket: no key holds one.
_TOKEN = r"[^\s'\",;&)\]}<>\\]+"
_PATTERNS = (
    re.compile(r"(sk-or-)[A-Za-z0-9_\-]+"),
    re.compile(r"\b(sk-)[A-Za-z0-9_\-]{16,}"),
    re.compile(r"(hqk_)[A-Za-z0-9_\-]+"),
    re.compile(r"(whsec_)[A-Za-z0-9+/=_\-]+"),
    re.compile(r"((?i:bearer)(?:\s+|%20))" + _TOKEN),
    re.compile(
        r"((?i:authorization|x-api-key|api[-_]key)[\"']?\s*[:=]\s*[\"']?"
        r"(?:(?i:basic|bearer|digest|token|key)\s+)?)" + _TOKEN
    ),
)

JsonValue: TypeAlias = (
    str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
)


class Redactor:
    """Masks the known secret shapes, and the values of `secrets`, in any text.

    A value shorter than MIN_SECRET_CHARS is not a secret and is left out.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = {
            form
            for secret in secrets
            if len(secret) >= MIN_SECRET_CHARS
            for form in _encoded_forms(secret)
        }
        self._secrets = tuple(sorted(forms, key=len, reverse=True))

    def redact(self, text: str) -> str:
        """`text` with every secret masked."""
        for secret in self._secrets:
            text = _mask_starts_of(secret, text)
        for pattern in _PATTERNS:
            text = pattern.sub(rf"\g<1>{MASK}", text)
        return text

    def redact_json(self, value: JsonValue) -> JsonValue:
        """`value` (decoded JSON) with every string in it redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_json(item) for item in value]
        if isinstance(value, dict):
            return {key: self.redact_json(item) for key, item in value.items()}
        return value

    def excerpt(self, text: str, *, max_chars: int) -> str:
        """The start of `text` on one line, redacted before it is cut: at most
        `max_chars` characters, ending in `…` when cut."""
        window = text[: max_chars * _EXCERPT_WINDOW_FACTOR]
        line = " ".join(self.redact(window).split())
        return line if len(line) <= max_chars else line[: max_chars - 1] + "…"


_SHAPES = Redactor()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret shape and every value of `secrets` masked."""
    return Redactor(secrets).redact(text) if secrets else _SHAPES.redact(text)


def redact_json(value: JsonValue) -> JsonValue:
    """Decoded JSON with every known secret shape masked in its strings."""
    return _SHAPES.redact_json(value)


def _redact_object(value: dict[str, Any]) -> dict[str, Any]:
    return {key: _SHAPES.redact_json(item) for key, item in value.items()}


# Fields of the API's views that serve stored text: whatever a row holds, no
# secret shape is served.
RedactedText = Annotated[str, AfterValidator(_SHAPES.redact)]
RedactedJson = Annotated[dict[str, Any], AfterValidator(_redact_object)]


def _encoded_forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}


def _mask_starts_of(secret: str, text: str) -> str:
    """`text` with every run of PARTIAL_SECRET_CHARS or more characters that
    starts `secret` (the whole of it included) masked."""
    head = secret[:PARTIAL_SECRET_CHARS]
    found = text.find(head)
    if found < 0:
        return text
    parts: list[str] = []
    kept_from = 0
    while found >= 0:
        end = found + len(head)
        limit = min(len(text), found + len(secret))
        while end < limit and text[end] == secret[end - found]:
            end += 1
        parts += [text[kept_from:found], MASK]
        kept_from = end
        found = text.find(head, end)
    parts.append(text[kept_from:])
    return "".join(parts)


class RedactionFilter(logging.Filter):
    """Renders a record's message (with its args) and its traceback, masked.

    Attach it to handlers, not loggers: a logger's filters do not see records
    that propagate from its children.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._redactor = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        redact_text = self._redactor.redact
        record.msg = redact_text(_message(record))
        record.args = None
        if record.exc_info and not record.exc_text:
            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = text.rstrip("\n")
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):  # args that do not fit the format: keep both
        return f"{record.msg!s} {record.args!r}"
