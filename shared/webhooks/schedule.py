"""When to try a webhook again: the retry schedule and `Retry-After`."""

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_delay_s(delays_s: tuple[float, ...], attempts_made: int) -> float | None:
    """The wait before the next try after `attempts_made` tries; None: give up."""
    index = attempts_made - 1
    if 0 <= index < len(delays_s):
        return delays_s[index]
    return None


def retry_after_s(value: str | None, *, now: datetime) -> float | None:
    """Seconds asked by a `Retry-After` header (seconds or an HTTP date), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # an HTTP date is GMT by definition
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def next_delay_s(
    delays_s: tuple[float, ...], attempts_made: int, *, retry_after: float | None
) -> float | None:
    """The schedule's wait, or the receiver's `Retry-After` when it asked for one.

    Retry-After never buys extra tries: once the schedule is used up, we give up.
    """
    scheduled = retry_delay_s(delays_s, attempts_made)
    if scheduled is None or retry_after is None:
        return scheduled
    return min(retry_after, max(delays_s))
