"""How a batch moves: `validating → in_progress → completed`, or fails, expires or
is cancelled, each at a time set by the `HELIXQ_SIM_BATCH_*` durations.

Every function takes `now` and applies whatever is due by then, so a read, the
clock's tick and a test's fast-forward all see the same history.
"""

import random
import string

from simulator.batches.batch import Batch, BatchStatus, Timeline
from simulator.batches.charges import bill
from simulator.batches.faults import Outcome
from simulator.batches.results import run_lines
from simulator.batches.submission import Submission
from simulator.state import SimulatorState

_ID_CHARS = string.ascii_letters + string.digits
_FAILED_BY_PROVIDER = "The provider rejected the batch while validating it."
_ALL_FAILED = (
    "All {total} request(s) in this batch failed upstream; "
    "inspect each result's error field."
)
_END_OF_WORK = {
    Outcome.COMPLETE: BatchStatus.COMPLETED,
    Outcome.EXPIRE: BatchStatus.EXPIRED,
    Outcome.FAIL: BatchStatus.FAILED,
}


def new_batch_id(rng: random.Random, now: float) -> str:
    """Issue an id shaped like live ones: `batch-<unix>-<20 alphanumerics>`."""
    return f"batch-{int(now)}-{''.join(rng.choices(_ID_CHARS, k=20))}"


def open_batch(submission: Submission, *, now: float, state: SimulatorState) -> Batch:
    """Start a batch in `validating`, with its timeline and any queued fault."""
    settings = state.settings
    validated_at = now + settings.batch_validating_s
    timeline = Timeline(
        validated_at=validated_at,
        done_at=validated_at + settings.batch_in_progress_s,
        expires_at=now + settings.batch_window_s,
    )
    return Batch(
        id=new_batch_id(state.ids, now),
        model=submission.model,
        variant=submission.variant,
        served=submission.served,
        endpoint=submission.endpoint,
        callback_url=submission.callback_url,
        lines=submission.lines,
        created_at=now,
        timeline=timeline,
        fault=state.batches.faults.next_fault(submission.served.id),
    )


def _ending(batch: Batch) -> tuple[float, BatchStatus]:
    """When and how the batch ends if nothing changes; the work wins ties."""
    timeline = batch.timeline
    options = [
        (timeline.done_at, 0, _END_OF_WORK[batch.fault.outcome]),
        (timeline.expires_at, 1, BatchStatus.EXPIRED),
    ]
    if timeline.cancel_at is not None:
        options.append((timeline.cancel_at, 2, BatchStatus.CANCELLED))
    at, _, status = min(options)
    return at, status


def _fail(batch: Batch, message: str, at: float, state: SimulatorState) -> None:
    """End the batch `failed`: every line failed, no results, nothing billed."""
    batch.status, batch.finalized_at, batch.error = BatchStatus.FAILED, at, message
    batch.completed, batch.failed = 0, batch.total
    state.batches.note_ended(batch)


def _complete(batch: Batch, at: float, state: SimulatorState) -> None:
    run = run_lines(batch, batch.total, at=at, state=state)
    batch.results, batch.usage = run.entries, run.usage
    batch.completed, batch.failed = run.succeeded, run.failed
    if run.succeeded == 0:
        batch.error = _ALL_FAILED.format(total=batch.total)
    bill(batch, state, at, may_lock=True)


def _stop(batch: Batch, at: float, state: SimulatorState) -> None:
    """Cancelled or expired: the lines finished by then are billed, none returned."""
    stalled = batch.fault.outcome is Outcome.EXPIRE
    done = 0 if stalled else batch.timeline.lines_done(at, batch.total)
    run = run_lines(batch, done, at=at, state=state)
    batch.usage = run.usage
    batch.completed, batch.failed = run.succeeded, batch.total - run.succeeded
    bill(batch, state, at, may_lock=False)


def _finish(
    batch: Batch, status: BatchStatus, at: float, state: SimulatorState
) -> None:
    if status is BatchStatus.FAILED:
        _fail(batch, _FAILED_BY_PROVIDER, at, state)
        return
    batch.status, batch.finalized_at = status, at
    if status is BatchStatus.COMPLETED:
        _complete(batch, at, state)
    else:
        _stop(batch, at, state)
    state.batches.note_ended(batch)


def _validate(batch: Batch, state: SimulatorState) -> bool:
    """End validation: fail on the first bad line or a scripted failure."""
    at = batch.timeline.validated_at
    problem = next((line.problem for line in batch.lines if line.problem), None)
    if problem is None and batch.fault.outcome is Outcome.FAIL:
        problem = _FAILED_BY_PROVIDER
    if problem is not None:
        _fail(batch, problem, at, state)
        return False
    batch.status, batch.was_started = BatchStatus.IN_PROGRESS, True
    return True


def advance(batch: Batch, now: float, state: SimulatorState) -> bool:
    """Apply every transition due by `now`; say whether the batch ended."""
    if batch.status.is_terminal:
        return False
    at, status = _ending(batch)
    if batch.status is BatchStatus.VALIDATING:
        if at < batch.timeline.validated_at and at <= now:
            _finish(batch, status, at, state)  # cancelled or expired unvalidated
            return True
        if now < batch.timeline.validated_at or not _validate(batch, state):
            return batch.status.is_terminal
    if now < at:
        return False
    _finish(batch, status, at, state)
    return True


def request_cancel(batch: Batch, now: float, state: SimulatorState) -> None:
    """Ask the provider to stop; the batch stays as it is until it confirms."""
    if batch.timeline.cancel_at is None:
        batch.timeline.cancel_at = now + state.settings.batch_cancel_s


def fast_forward(
    batch: Batch, now: float, state: SimulatorState, *, until: BatchStatus | None
) -> None:
    """Make the next step (`in_progress`) or the end happen now."""
    timeline = batch.timeline
    if until is BatchStatus.IN_PROGRESS:
        early_s = max(timeline.validated_at - now, 0)
        timeline.validated_at -= early_s
        timeline.done_at -= early_s  # the work keeps its length
    else:
        timeline.validated_at = min(timeline.validated_at, now)
        if timeline.cancel_at is not None:
            timeline.cancel_at = min(timeline.cancel_at, now)
        else:
            timeline.done_at = min(timeline.done_at, now)
    advance(batch, now, state)
