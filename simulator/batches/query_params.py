"""Integer query parameters, read strictly: ASCII digits within bounds, else 400."""

from simulator.errors import SimError


def is_count(raw: str) -> bool:
    """Say whether text is a plain count (`str.isdigit` also takes `²`)."""
    return raw.isascii() and raw.isdigit()


def int_param(name: str, raw: str | None, *, low: int, high: int, default: int) -> int:
    """Read `name` from the query; its default when absent."""
    if raw is None:
        return default
    if not is_count(raw) or not low <= int(raw) <= high:
        raise SimError(400, f"{name} must be an integer from {low} to {high}")
    return int(raw)
