"""Job, batch and attempt states (pure).

A job moves queued → running → succeeded | failed, running → queued (released for a
retry or re-sent after its lease expired), queued → cancelled | expired, and
running → cancelled when the client of a streaming job leaves mid-call. The moves are
made by conditional UPDATEs, all in workers.jobs.transitions but the API's batch
cancel (broker_api.batches.queries), each guarded by the state it leaves, so no
other move can happen.
"""

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED}
)


class CostSource(StrEnum):
    """Where an attempt's `cost_usd` comes from (docs/ledger.md)."""

    REPORTED = "reported"  # `usage.cost` of the answer
    ESTIMATED = "estimated"  # catalog price x tokens, or the call's reserve
    RECONCILED = "reconciled"  # OpenRouter's `GET /generation` for its id
    ATTRIBUTED = "attributed"  # a share of an account-level difference
    UNBILLED = "unbilled"  # OpenRouter refused the call: nothing generated
    UNKNOWN = "unknown"  # no figure at all; `cost_note` says why


class AttemptOutcome(StrEnum):
    """What one upstream call ended as."""

    SUCCEEDED = "succeeded"
    RETRYABLE = "retryable"  # another try (same or other model) may succeed
    PERMANENT = "permanent"  # retrying cannot help
    # Written before the call, so a worker dying mid-call still leaves the call in
    # the ledger; the sweeper marks it interrupted once its lease has run out.
    STARTED = "started"
    # Its worker stopped (and cut the call off: error_code worker_stopped) or died
    # (worker_lost): answer and cost unknown, and no failure of the model.
    INTERRUPTED = "interrupted"
    # The client of a streaming job left, and the call was closed: its usage and
    # cost are what was generated until then (reported, or estimated).
    CANCELLED = "cancelled"


class BatchStatus(StrEnum):
    VALIDATING = "validating"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLING = "cancelling"  # cancelled, waiting for its running items to end
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in {
            BatchStatus.COMPLETED,
            BatchStatus.FAILED,
            BatchStatus.CANCELLED,
            BatchStatus.EXPIRED,
        }


# A batch's `request_counts` name these, plus `total`, `completed` and `pending`.
COUNTED_STATUSES = (
    JobStatus.SUCCEEDED,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
    JobStatus.EXPIRED,
)


def batch_request_counts(total: int, by_status: dict[str, int]) -> dict[str, int]:
    """A batch's counts from its items' statuses; pending = queued or running."""
    ended = {status.value: by_status.get(status, 0) for status in COUNTED_STATUSES}
    # `completed` is OpenAI's name for the items that succeeded.
    completed = ended[JobStatus.SUCCEEDED.value]
    return {
        "total": total,
        "completed": completed,
        **ended,
        "pending": total - sum(ended.values()),
    }
