"""Which upstream attempts a request makes: scripts, faults, fallbacks, latency."""

from dataclasses import dataclass

from simulator.catalog import ModelEntry
from simulator.chat_request import ChatRequest
from simulator.failures import is_fallback_worthy
from simulator.scripts import Behaviour, Effect
from simulator.settings import SimulatorSettings
from simulator.state import SimulatorState


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upstream call: the model tried, what it did and how long it took."""

    model: ModelEntry
    effect: Effect
    failure: str | None
    latency_s: float
    midstream_status: int | None = None  # BREAK: its error event's status

    @property
    def status(self) -> int:
        """Return the HTTP status the provider answered with."""
        if self.failure is None:
            return 200
        return int(self.failure) if self.failure.isdigit() else 400


def configured_latency_ms(model: ModelEntry, settings: SimulatorSettings) -> int:
    """Return a model's latency before jitter: per-model setting, else the default."""
    return settings.model_latency_ms.get(model.id, settings.latency_ms)


def _latency_s(
    model: ModelEntry, behaviour: Behaviour | None, state: SimulatorState
) -> float:
    """Scripted latency wins; otherwise the configured one with uniform jitter."""
    if behaviour is not None and behaviour.latency_ms is not None:
        return behaviour.latency_ms / 1000
    latency_ms: float = configured_latency_ms(model, state.settings)
    jitter_ms = state.settings.latency_jitter_ms
    if jitter_ms:
        latency_ms += state.rng.uniform(-jitter_ms, jitter_ms)
    return max(latency_ms, 0) / 1000


def _random_failure(model: ModelEntry, state: SimulatorState) -> str | None:
    """Draw a random fault for a real model: 429, 500, or the per-model 502 rate."""
    settings = state.settings
    rates = (
        ("429", settings.failure_rate_429),
        ("500", settings.failure_rate_500),
        ("502", settings.model_failure_rate.get(model.id, 0.0)),
    )
    if not any(rate for _, rate in rates):
        return None
    draw = state.rng.random()
    for failure, rate in rates:
        if draw < rate:
            return failure
        draw -= rate
    return None


def _attempt(
    model: ModelEntry,
    forced: Behaviour | None,
    chat: ChatRequest,
    state: SimulatorState,
) -> Attempt:
    """Decide one attempt: header, then queued script, then the model's script."""
    behaviour = forced or state.scripts.next_queued(model.id) or model.behaviour
    latency_s = _latency_s(model, behaviour, state)
    if behaviour is None:
        failure = _random_failure(model, state)
        effect = Effect.SUCCEED if failure is None else Effect.FAIL
        return Attempt(model, effect, failure, latency_s)
    if behaviour.effect is Effect.FAIL and not state.scripts.should_fail(
        behaviour, chat.fingerprint
    ):
        return Attempt(model, Effect.SUCCEED, None, latency_s)
    return Attempt(
        model,
        behaviour.effect,
        behaviour.failure,
        latency_s,
        midstream_status=behaviour.midstream_status,
    )


def plan_attempts(
    chat: ChatRequest, state: SimulatorState, forced: Behaviour | None
) -> tuple[Attempt, ...]:
    """Try the candidates in order until one does not fail (or the last fails).

    `forced` (the X-Sim-Behaviour header) scripts only the first candidate, so a
    header failure plus a `models` list shows the failover.
    """
    attempts: list[Attempt] = []
    for index, model in enumerate(chat.candidates):
        attempt = _attempt(model, forced if index == 0 else None, chat, state)
        attempts.append(attempt)
        if attempt.failure is None or not is_fallback_worthy(attempt.failure):
            break
    return tuple(attempts)
