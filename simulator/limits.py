"""OpenRouter's platform limits on `:free` models: per minute and per UTC day."""

from collections import deque
from datetime import UTC, date, datetime, timedelta

from simulator.errors import SimError

_MINUTE_S = 60.0


def _next_midnight_ms(today: date) -> int:
    """Return the next UTC midnight in epoch milliseconds."""
    midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
    return int(midnight.timestamp() * 1000)


def _rate_limited(limit: int, reset_ms: int, message: str) -> SimError:
    """The 429 OpenRouter itself issues, with X-RateLimit-* in headers and body."""
    headers = {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(reset_ms),
    }
    metadata = {"headers": headers, "provider_name": None}
    return SimError(429, message, metadata=metadata, headers=headers)


class FreeModelLimiter:
    """Account-wide counters shared by every `:free` model.

    Only admitted requests count: one third-party measurement found that rejected
    requests do not use up the daily allowance.
    """

    def __init__(self, per_minute: int, per_day: int, *, is_high_balance: bool) -> None:
        self._per_minute = per_minute
        self._per_day = per_day
        self._is_high_balance = is_high_balance
        self._minute: deque[float] = deque()  # admission times in the last 60 s
        self._day = date.min
        self._day_count = 0

    def admit(self, now_s: float) -> None:
        """Count one request, or raise the 429 when a limit is used up."""
        today = datetime.fromtimestamp(now_s, UTC).date()
        if today != self._day:
            self._day, self._day_count = today, 0
        if self._day_count >= self._per_day:
            raise _rate_limited(
                self._per_day, _next_midnight_ms(today), self._day_message()
            )
        while self._minute and now_s - self._minute[0] >= _MINUTE_S:
            self._minute.popleft()
        if len(self._minute) >= self._per_minute:
            oldest_s = self._minute[0] if self._minute else now_s
            raise _rate_limited(
                self._per_minute,
                int((oldest_s + _MINUTE_S) * 1000),
                "Rate limit exceeded: free-models-per-min.",
            )
        self._minute.append(now_s)
        self._day_count += 1

    def _day_message(self) -> str:
        if self._is_high_balance:
            return "Rate limit exceeded: free-models-per-day-high-balance."
        return (
            "Rate limit exceeded: free-models-per-day. "
            "Add 10 credits to unlock 1000 free model requests per day"
        )
