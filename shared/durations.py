"""Durations written the way operators write them: `60s`, `500ms`, `2m`, `1h`, `1.5`."""

import re

_DURATION = re.compile(r"^\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d)?\s*$")
DAY_S = 86_400.0
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY_S}

DURATION_HELP = "a duration such as 500ms, 60s, 2m, 1h, or a number of seconds"


def parse_duration_s(text: str | float | int) -> float:
    """Seconds in `text`; a bare number is seconds. Raises ValueError otherwise."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text))
        if match is None:
            raise ValueError(f"expected {DURATION_HELP}, got {text!r}")
        seconds = float(match["value"]) * _UNIT_S[match["unit"] or "s"]
    if seconds < 0:
        raise ValueError(f"expected {DURATION_HELP}, got a negative value")
    return seconds


def parse_duration_list(text: str) -> tuple[float, ...]:
    """Seconds of each comma-separated duration (`5s,5m,2h`); empty means none."""
    parts = [part for part in text.split(",") if part.strip()]
    return tuple(parse_duration_s(part) for part in parts)
