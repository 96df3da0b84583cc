"""The call log: every chat completion request, counted for tests and benchmarks."""

from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

# The request key under which the app notes when a request arrived.
RECEIVED_AT = web.RequestKey("received_at", float)


@dataclass(frozen=True, slots=True)
class Call:
    """One request to /chat/completions and how it was answered."""

    ts: float  # unix seconds: when it was answered
    # When the request arrived, unix seconds: what an upstream's rate limit counts.
    received_ts: float
    model: str | None
    provider: str | None
    status: int
    job_id: str | None
    generation_id: str | None
    app: str | None = None  # X-OpenRouter-Title: which client process called
    streamed: bool = False
    cancelled: bool = False  # the client closed the stream before it ended
    completion_tokens: int | None = None  # generated, hence billed; None: refused
    # A stream's schedule, unix seconds: its first token was due then, and each
    # later one a token interval after the one before (benchmarks time chunks by it).
    first_token_ts: float | None = None
    cost_usd: str | None = None  # what it was billed, exact decimal text


def received_ts(request: web.Request) -> float:
    """When `request` arrived (simulator.app.stamp_arrival), unix seconds."""
    return request[RECEIVED_AT]


class CallLog:
    """Counters since the last reset, plus a ring buffer of the latest calls."""

    def __init__(self, capacity: int = 200_000) -> None:
        self._recent: deque[Call] = deque(maxlen=capacity)
        self._by_status: Counter[str] = Counter()
        self._by_job: Counter[str] = Counter()
        self._by_model: Counter[str] = Counter()
        self._cancelled = 0

    def record(self, call: Call) -> None:
        """Add a call to the counters and the ring buffer."""
        self._recent.append(call)
        self._by_status[str(call.status)] += 1
        if call.job_id is not None:
            self._by_job[call.job_id] += 1
        if call.model is not None:
            self._by_model[call.model] += 1
        self._cancelled += call.cancelled

    def summary(self, *, with_calls: bool = False) -> dict[str, Any]:
        """Summarise the log; with_calls adds the buffered calls, oldest first.

        `cancelled` counts streams whose client left: their upstream call was closed.
        """
        summary: dict[str, Any] = {
            "total": self._by_status.total(),
            "by_status": dict(self._by_status),
            "by_job": dict(self._by_job),
            "by_model": dict(self._by_model),
            "cancelled": self._cancelled,
        }
        if with_calls:
            summary["calls"] = [asdict(call) for call in self._recent]
        return summary
