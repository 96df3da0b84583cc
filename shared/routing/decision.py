"""RoutingDecision: what routing chose for a job and why, stored in `jobs.routing`."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class FailureNote:
    """One failed attempt and what routing did about it."""

    model: str
    error_code: str | None
    http_status: int | None
    fixable: bool  # whether another model was tried after it

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "error_code": self.error_code,
            "http_status": self.http_status,
            "fixable": self.fixable,
        }


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """The strategy, the candidates in order and the reason for that order.

    `candidates` always lists the models tried so far first, then those still
    to try; `model_used` is set by the worker when a candidate succeeds.
    """

    strategy: str
    fallback: str
    candidates: tuple[str, ...]
    reason: str
    notes: Mapping[str, str] = field(default_factory=dict)
    request_class: str | None = None
    failures: tuple[FailureNote, ...] = ()
    model_used: str | None = None

    @property
    def tried(self) -> tuple[str, ...]:
        return tuple(failure.model for failure in self.failures)

    @property
    def remaining(self) -> tuple[str, ...]:
        """Candidates not tried yet; empty after a failure no model can fix."""
        if not self.failures:  # the common case, asked several times per job
            return self.candidates
        if not self.failures[-1].fixable:
            return ()
        tried = set(self.tried)
        return tuple(model for model in self.candidates if model not in tried)

    def next_model(self) -> str | None:
        """The model to call next, or None when routing has nothing left."""
        remaining = self.remaining
        return remaining[0] if remaining else None

    def with_model_used(self, model: str) -> "RoutingDecision":
        return replace(self, model_used=model)

    def to_json(self) -> dict[str, Any]:
        """The `jobs.routing` JSONB value (also shown by `GET /v1/jobs/{id}`)."""
        return {
            "strategy": self.strategy,
            "fallback": self.fallback,
            "candidates": list(self.candidates),
            "reason": self.reason,
            "notes": dict(self.notes),
            "request_class": self.request_class,
            "failures": [failure.to_json() for failure in self.failures],
            "model_used": self.model_used,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> "RoutingDecision":
        return cls(
            strategy=raw["strategy"],
            fallback=raw["fallback"],
            candidates=tuple(raw["candidates"]),
            reason=raw["reason"],
            notes=dict(raw.get("notes") or {}),
            request_class=raw.get("request_class"),
            failures=tuple(FailureNote(**item) for item in raw.get("failures") or ()),
            model_used=raw.get("model_used"),
        )
