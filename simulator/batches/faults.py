"""Scripted batch faults: fail or expire a batch, fail some lines, lose the answer.

A fault is given as an object, `{"outcome": "complete" | "fail" | "expire",
"failed_lines": N, "failed_custom_ids": [...], "lose_answer": bool}` (every key
optional), or as one of the shorthands `ok`, `fail`, `expire`, `lose-answer`.
"""

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from simulator.errors import SimError


class Outcome(StrEnum):
    """How the provider ends a batch that passed validation."""

    COMPLETE = "complete"
    FAIL = "fail"  # validation fails, as for a bad line
    EXPIRE = "expire"  # the provider never finishes: the batch expires unfinished


@dataclass(frozen=True, slots=True)
class BatchFault:
    """What goes wrong with one batch; the default is nothing."""

    outcome: Outcome = Outcome.COMPLETE
    failed_lines: int = 0  # the first N lines fail upstream
    failed_custom_ids: frozenset[str] = frozenset()
    is_answer_lost: bool = False  # the batch is stored but the 202 never arrives

    def fails_line(self, index: int, custom_id: str) -> bool:
        """Say whether the provider fails this line."""
        return index < self.failed_lines or custom_id in self.failed_custom_ids


NO_FAULT = BatchFault()
_SHORTHANDS = {
    "ok": NO_FAULT,
    "fail": BatchFault(outcome=Outcome.FAIL),
    "expire": BatchFault(outcome=Outcome.EXPIRE),
    "lose-answer": BatchFault(is_answer_lost=True),
}
_KEYS = frozenset({"outcome", "failed_lines", "failed_custom_ids", "lose_answer"})


def _invalid(item: object, reason: str) -> SimError:
    return SimError(400, f"{item!r} is not a batch fault: {reason}")


def _custom_ids(item: Mapping[str, Any]) -> frozenset[str]:
    names = item.get("failed_custom_ids", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _invalid(item, "failed_custom_ids must be a list of strings")
    return frozenset(names)


def _fault_object(item: Mapping[str, Any]) -> BatchFault:
    unknown = sorted(set(item) - _KEYS)
    if unknown:
        raise _invalid(item, f"unknown keys {unknown}; use {sorted(_KEYS)}")
    try:
        outcome = Outcome(item.get("outcome", Outcome.COMPLETE))
    except ValueError:
        raise _invalid(item, f"outcome must be one of {list(Outcome)}") from None
    failed_lines = item.get("failed_lines", 0)
    if not isinstance(failed_lines, int) or isinstance(failed_lines, bool):
        raise _invalid(item, "failed_lines must be an integer")
    if failed_lines < 0:
        raise _invalid(item, "failed_lines must be at least 0")
    lose_answer = item.get("lose_answer", False)
    if not isinstance(lose_answer, bool):
        raise _invalid(item, "lose_answer must be a boolean")
    return BatchFault(outcome, failed_lines, _custom_ids(item), lose_answer)


def parse_fault(item: object) -> BatchFault:
    """Read one fault from control JSON; raise SimError(400) naming the problem."""
    if isinstance(item, str):
        fault = _SHORTHANDS.get(item)
        if fault is None:
            raise _invalid(item, f"shorthands are {sorted(_SHORTHANDS)}")
        return fault
    if isinstance(item, dict):
        return _fault_object(item)
    raise _invalid(item, "expected a shorthand string or an object")


class FaultBook:
    """Faults queued per model for the next batches submitted with it."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[BatchFault]] = {}

    def queue(self, model_id: str, faults: Iterable[BatchFault]) -> int:
        """Queue faults for a model's next batches; return how many wait."""
        pending = self._queued.setdefault(model_id, deque())
        pending.extend(faults)
        return len(pending)

    def next_fault(self, model_id: str) -> BatchFault:
        """Take the fault of a model's next batch; no fault when none waits."""
        pending = self._queued.get(model_id)
        return pending.popleft() if pending else NO_FAULT
