"""Ids in paths: a malformed id answers exactly like a missing one."""

from collections.abc import Callable
from uuid import UUID

from shared.errors import NotFound


def parse_id(raw: str, missing: Callable[[str], NotFound]) -> UUID:
    """The UUID in `raw`, or the resource's NotFound: ids reveal nothing."""
    try:
        return UUID(raw)
    except ValueError:
        raise missing(raw) from None
