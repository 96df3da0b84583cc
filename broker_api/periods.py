"""Reporting periods: `?from=&to=` dates (usage) or `?window=24h` (stats), in UTC."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from shared.durations import DURATION_HELP, parse_duration_s
from shared.errors import DateOutOfRange, InvalidRequest

MAX_USAGE_DAYS = 366
DEFAULT_USAGE_DAYS = 30
# A period ends at midnight after its last day, which must still be a date.
LAST_DAY = date.max - timedelta(days=1)
# Without `from`, a period starts DEFAULT_USAGE_DAYS - 1 days before `to`.
FIRST_DEFAULT_LAST_DAY = date.min + timedelta(days=DEFAULT_USAGE_DAYS - 1)
MIN_WINDOW_S = 60.0
MAX_WINDOW_S = 90 * 86400.0


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end): attempts started in it are counted."""

    start: datetime
    end: datetime


def period_from_dates(first: date | None, last: date | None, *, today: date) -> Period:
    """From `first` through `last` (whole UTC days, both included); the last 30
    days up to `last` (default today) when `first` is not given."""
    last = last or today
    if last > LAST_DAY:
        raise DateOutOfRange(
            "to", f"{last} is after {LAST_DAY}, the last day a report can cover"
        )
    if first is None:
        if last < FIRST_DEFAULT_LAST_DAY:
            raise DateOutOfRange(
                "to",
                f"the default {DEFAULT_USAGE_DAYS} days up to {last} would start "
                f"before {date.min}: give 'from' too",
            )
        first = last - timedelta(days=DEFAULT_USAGE_DAYS - 1)
    if first > last:
        raise InvalidRequest(f"'from' ({first}) is after 'to' ({last})")
    if (last - first).days + 1 > MAX_USAGE_DAYS:
        raise InvalidRequest(f"a usage report spans at most {MAX_USAGE_DAYS} days")
    start = datetime.combine(first, time.min, UTC)
    return Period(start, datetime.combine(last + timedelta(days=1), time.min, UTC))


def period_from_window(window: str, *, now: datetime) -> Period:
    """The `window` (`24h`, `7d`, `30m`, seconds) up to `now`."""
    try:
        window_s = parse_duration_s(window)
    except ValueError:
        raise InvalidRequest(f"window: expected {DURATION_HELP}") from None
    if not MIN_WINDOW_S <= window_s <= MAX_WINDOW_S:
        raise InvalidRequest("window: between 1m and 90d")
    return Period(now - timedelta(seconds=window_s), now)
