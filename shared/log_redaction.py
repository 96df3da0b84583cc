"""Masking secrets out of log records before any handler writes them.

Known shapes are masked wherever they appear (OpenRouter keys `sk-or-…`, our API
keys `hqk_…`, webhook secrets `whsec_…`, bearer tokens); configured values (the
admin token, an OpenRouter key of another shape) are masked verbatim.
"""

import logging
import re
import traceback
from collections.abc import Iterable

MASK = "***"
# Shorter values would mask ordinary words; real secrets are far longer.
MIN_SECRET_CHARS = 8

_PATTERNS = (
    re.compile(r"(sk-or-)[A-Za-z0-9_\-]+"),
    re.compile(r"(hqk_)[A-Za-z0-9_\-]+"),
    re.compile(r"(whsec_)[A-Za-z0-9+/=_\-]+"),
    re.compile(r"((?i:bearer)\s+)[^\s'\",;}]+"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every known secret shape and every value of `secrets` masked."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(rf"\g<1>{MASK}", text)
    return text


class RedactionFilter(logging.Filter):
    """Renders a record's message (with its args) and its traceback, masked.

    Attach it to handlers, not loggers: a logger's filters do not see records
    that propagate from its children.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if len(s) >= MIN_SECRET_CHARS)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(_message(record), self._secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = text.rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._secrets)
        return True


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):  # args that do not fit the format: keep both
        return f"{record.msg!s} {record.args!r}"
