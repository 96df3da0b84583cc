"""The chaos table, on the terminal and in docs/reliability.md."""

from datetime import UTC, datetime
from pathlib import Path

from bench.chaos.scenarios import Row

HEADER = (
    "| fault | jobs | terminal | jobs with 2 successes | attempt rows "
    "| simulator calls | calls without an attempt (killed mid-call) | recovery | ok |"
)


def table(rows: list[Row]) -> str:
    lines = [HEADER, "|" + "---|" * 9]
    for row in rows:
        lines.append(
            f"| {row.scenario} | {row.jobs} | {row.terminal} | {row.double_successes} "
            f"| {row.attempts} | {row.sim_calls} | {row.calls_without_attempt} "
            f"| {row.recovery_s:.1f} s | {'yes' if row.ok else 'NO'} |"
        )
    return "\n".join(lines)


def write_report(path: Path, rows: list[Row], jobs: int) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    path.write_text(
        f"""# Reliability under faults

Measured with `make chaos` (`python -m bench.chaos`, {jobs} jobs a scenario) on
{when}. The run owns an embedded PostgreSQL, a redis-server, the simulator (200 ms
a call), a worker node of 2 processes and beat, all on loopback. Each fault is
injected once a quarter of the jobs are terminal; "recovery" runs from the fault
to the last job terminal. Lease 10 s, stale-queued threshold 5 s, sweep every 2 s.

{table(rows)}

- *jobs with 2 successes*: jobs with more than one succeeded attempt (must be 0).
- *calls without an attempt*: calls the simulator answered whose attempt row was
  never written, because the worker died while the call was in flight (the
  attempt row is written when the answer is recorded); the job is re-run after its
  lease expires, so these calls are paid twice upstream.
"""
    )
