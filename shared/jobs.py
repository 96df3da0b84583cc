"""Job and attempt states and the transitions a job may make (pure)."""

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

ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset(
        {JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.EXPIRED, JobStatus.FAILED}
    ),
    # running → queued: released for a retry, or its lease expired and it is re-sent
    JobStatus.RUNNING: frozenset(
        {JobStatus.QUEUED, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.EXPIRED}
    ),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
    JobStatus.EXPIRED: frozenset(),
}


def can_transition(source: JobStatus, target: JobStatus) -> bool:
    """Whether a job in `source` may move to `target`."""
    return target in ALLOWED_TRANSITIONS[source]


class AttemptOutcome(StrEnum):
    """What one upstream call ended as."""

    SUCCEEDED = "succeeded"
    RETRYABLE = "retryable"  # another try (same or other model) may succeed
    PERMANENT = "permanent"  # retrying cannot help


class BatchStatus(StrEnum):
    VALIDATING = "validating"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    FAILED = "failed"
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


# A batch's `request_counts` name these, plus `total` and `pending`.
COUNTED_STATUSES = (
    JobStatus.SUCCEEDED,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
    JobStatus.EXPIRED,
)


def batch_request_counts(total: int, by_status: dict[str, int]) -> dict[str, int]:
    """A batch's counts from its items' statuses; pending = queued or running."""
    ended = {status.value: by_status.get(status, 0) for status in COUNTED_STATUSES}
    return {"total": total, **ended, "pending": total - sum(ended.values())}
