"""Deterministic behaviour scripting: `sim/*` names, queued outcomes, fingerprints.

A behaviour name is what follows `sim/` in a scripted model id, or the value of the
`X-Sim-Behaviour` header: `ok`, `fast`, `slow`, `hang`, `bad-json`, a failure
after generation started (`midstream-<status>`: half the answer, then OpenRouter's
mid-stream error with that status; `midstream-error` and `error-200` mean
`midstream-502`), a failure (`429`, `500`, `context-length`, any 4xx/5xx but 401),
`<failure>x<N>-then-ok` (fail N times per request fingerprint, then succeed;
`429-then-ok` means `429x1-then-ok`), or an echo of the request's headers
(`echo-401`, `echo-502`: see simulator.echoes).
"""

import re
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType


class Effect(Enum):
    """What an upstream attempt does."""

    SUCCEED = "succeed"
    FAIL = "fail"
    BAD_JSON = "bad-json"
    BREAK = "break"  # the provider fails after generation started: a 200 with an error
    ECHO = "echo"  # a failure whose body quotes the request's headers back


@dataclass(frozen=True, slots=True)
class Behaviour:
    """A named, scripted outcome for one upstream attempt."""

    name: str
    effect: Effect
    failure: str | None = None  # which upstream error answers: "429", "context-length"
    failures_before_ok: int | None = None  # None: fail every time
    latency_ms: int | None = None  # None: the configured latency
    midstream_status: int | None = None  # BREAK: the status its error event carries


CONTEXT_LENGTH = "context-length"
_FIXED = MappingProxyType(
    {
        behaviour.name: behaviour
        for behaviour in (
            Behaviour("ok", Effect.SUCCEED),
            Behaviour("fast", Effect.SUCCEED, latency_ms=10),
            Behaviour("slow", Effect.SUCCEED, latency_ms=3_000),
            Behaviour("hang", Effect.SUCCEED, latency_ms=300_000),
            Behaviour("bad-json", Effect.BAD_JSON),
            Behaviour("error-200", Effect.BREAK, midstream_status=502),
            Behaviour("midstream-error", Effect.BREAK, midstream_status=502),
            Behaviour("echo-401", Effect.ECHO, failure="401"),
            Behaviour("echo-502", Effect.ECHO, failure="502"),
        )
    }
)
_MIDSTREAM_PREFIX = "midstream-"
_THEN_OK = re.compile(r"(?P<failure>\d{3}|context-length)(?:x(?P<count>\d+))?-then-ok")

# The behaviours listed as `sim/<name>` in /models; any other parseable name works too.
LISTED_BEHAVIOURS = (
    *_FIXED,
    *("400", "402", "403", "429", "500", "502", "503", CONTEXT_LENGTH),
    *("429-then-ok", "429x2-then-ok", "500-then-ok", "502-then-ok"),
    *("503-then-ok", "503x2-then-ok", "midstream-429", "midstream-500"),
)


def _is_failure(name: str) -> bool:
    """Say whether a name scripts an upstream error answer."""
    if name == CONTEXT_LENGTH:
        return True
    # 401 stays reserved for bad keys, so a 401 always means the caller's credentials.
    return name.isdigit() and 400 <= int(name) <= 599 and name != "401"


def parse_behaviour(name: str) -> Behaviour | None:
    """Return the behaviour a name scripts, or None when the name means nothing."""
    fixed = _FIXED.get(name)
    if fixed is not None:
        return fixed
    if _is_failure(name):
        return Behaviour(name, Effect.FAIL, failure=name)
    status = name.removeprefix(_MIDSTREAM_PREFIX)
    if name.startswith(_MIDSTREAM_PREFIX) and status.isdigit() and _is_failure(status):
        return Behaviour(name, Effect.BREAK, midstream_status=int(status))
    match = _THEN_OK.fullmatch(name)
    if match is None or not _is_failure(match["failure"]):
        return None
    count = int(match["count"] or 1)
    return Behaviour(name, Effect.FAIL, match["failure"], failures_before_ok=count)


def behaviour_for_status(status: int) -> Behaviour | None:
    """Map a scripted HTTP status to a behaviour: 200 succeeds, 4xx/5xx fail."""
    return _FIXED["ok"] if status == 200 else parse_behaviour(str(status))


class ScriptBook:
    """Outcomes queued per model, and failures already served per fingerprint."""

    def __init__(self, max_fingerprints: int = 200_000) -> None:
        self._queued: dict[str, deque[Behaviour]] = {}
        self._failures: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._max_fingerprints = max_fingerprints

    def queue(self, model_id: str, behaviours: Iterable[Behaviour]) -> int:
        """Queue outcomes for the next requests to a model; return how many wait."""
        pending = self._queued.setdefault(model_id, deque())
        pending.extend(behaviours)
        return len(pending)

    def next_queued(self, model_id: str) -> Behaviour | None:
        """Take the next queued outcome for a model, if any."""
        pending = self._queued.get(model_id)
        if not pending:
            return None
        return pending.popleft()

    def should_fail(self, behaviour: Behaviour, fingerprint: str) -> bool:
        """Say whether this attempt fails, counting `-then-ok` failures served."""
        if behaviour.failures_before_ok is None:
            return True
        key = (behaviour.name, fingerprint)
        served = self._failures.get(key, 0)
        if served >= behaviour.failures_before_ok:
            return False
        self._failures[key] = served + 1
        self._failures.move_to_end(key)
        if len(self._failures) > self._max_fingerprints:
            self._failures.popitem(last=False)
        return True
