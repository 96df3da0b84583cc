"""One upstream batch as the simulator keeps it: lines, timeline, status, outcome."""

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from simulator.batches.faults import BatchFault
from simulator.catalog import ModelEntry
from simulator.chat_request import ChatRequest

COMPLETION_WINDOW = "24h"  # the only window OpenRouter offers


class BatchStatus(StrEnum):
    """The statuses a batch is stored with (`finalizing`, `cancelling` never are)."""

    VALIDATING = "validating"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Say whether the batch has ended."""
        return self not in (BatchStatus.VALIDATING, BatchStatus.IN_PROGRESS)


@dataclass(frozen=True, slots=True)
class Line:
    """One request: its custom_id, the parsed chat body, or why validation fails."""

    custom_id: str
    chat: ChatRequest | None
    problem: str | None = None  # set: the batch fails when validation ends


@dataclass(slots=True)
class Timeline:
    """When each step happens, in unix seconds; fast-forwarding moves them."""

    validated_at: float
    done_at: float  # the provider has finished every line
    expires_at: float  # the provider's window closes
    cancel_at: float | None = None  # the provider confirms a cancel

    def lines_done(self, at: float, total: int) -> int:
        """How many lines the provider has finished by `at`: evenly over the work."""
        if at >= self.done_at:
            return total
        if at <= self.validated_at:
            return 0
        share = (at - self.validated_at) / (self.done_at - self.validated_at)
        return math.floor(total * share)


@dataclass(slots=True)
class Usage:
    """Tokens and USD over the lines that succeeded."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)


@dataclass(slots=True)
class Batch:
    """A batch and everything that has happened to it."""

    id: str
    model: str  # as the client sent it: base slug or `:batch` variant
    variant: ModelEntry  # the `:batch` entry: its prices bill the lines
    served: ModelEntry  # the model that answers: replies are its replies
    endpoint: str
    callback_url: str | None
    lines: tuple[Line, ...]
    created_at: float
    timeline: Timeline
    fault: BatchFault
    status: BatchStatus = BatchStatus.VALIDATING
    finalized_at: float | None = None
    error: str | None = None
    completed: int = 0
    failed: int = 0
    usage: Usage | None = None
    results: list[dict[str, Any]] | None = None  # in no particular order
    is_unpaid: bool = False  # the charge waits for credits: GET answers 402
    was_started: bool = False  # reached a provider: delete names the upstream

    @property
    def total(self) -> int:
        """Return the number of lines submitted."""
        return len(self.lines)
