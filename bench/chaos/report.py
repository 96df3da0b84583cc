"""The chaos table, on the terminal and in docs/reliability.md."""

from decimal import Decimal
from pathlib import Path

from bench.chaos.discount import DiscountRow, discount_table
from bench.chaos.scenarios import Row

HEADER = (
    "| fault | jobs accepted | terminal | jobs with 2 successes | attempt rows "
    "| of which interrupted | simulator calls | calls without an attempt row "
    "| recovery | ok |"
)
LEDGER_HEADER = (
    "| fault | simulator billed | ledger at the end of the jobs "
    "| ledger after reconciliation | largest gap of a model | attributed attempts "
    "| still estimated | unknown without a reason |"
)


def table(rows: list[Row]) -> str:
    lines = [HEADER, "|" + "---|" * 10]
    for row in rows:
        lines.append(
            f"| {row.scenario} | {row.jobs} | {row.terminal} | {row.double_successes} "
            f"| {row.attempts} | {row.interrupted} | {row.sim_calls} "
            f"| {row.calls_without_attempt} | {row.recovery_s:.1f} s "
            f"| {'yes' if row.ok else 'NO'} |"
        )
    lines += ["", LEDGER_HEADER, "|" + "---|" * 8]
    for row in rows:
        check = row.ledger
        lines.append(
            f"| {row.scenario} | {_usd(check.billed_usd)} | {_usd(check.before_usd)} "
            f"({_share(check.before_usd, check.billed_usd)}) | {_usd(check.after_usd)} "
            f"| {_usd(check.worst_model_gap_usd)} | {check.attributed} "
            f"| {check.open_costs} | {check.silent} |"
        )
    return "\n".join(lines)


def _usd(amount: Decimal) -> str:
    text = format(amount.normalize(), "f")
    return f"${'0' if text in {'-0', ''} else text}"


def _share(part: Decimal, whole: Decimal) -> str:
    return "n/a" if not whole else f"{float(part / whole):.1%} of the bill"


def write_report(
    path: Path,
    rows: list[Row],
    jobs: int,
    discount_rows: list[DiscountRow],
    lines: int,
) -> None:
    path.write_text(
        f"""# Reliability under faults

Measured with `make chaos` (`python -m bench.chaos`, {jobs} jobs a scenario) on the
2-core machine the tests run on. The run owns an embedded PostgreSQL, a
redis-server, the simulator (200 ms a call), the API, a worker node of 2 processes
and beat, all on loopback. Each
scenario creates a tenant through the admin API and submits its jobs through
`POST /v1/jobs`, as clients do (the batch scenario: one `POST /v1/batches`). Each
fault is injected once a quarter of the jobs are terminal; "recovery" runs from the
fault to the last job terminal. Lease 10 s, stale-queued threshold 5 s, sweep every 2 s.

{table(rows)}

- *jobs with 2 successes*: jobs with more than one succeeded attempt (must be 0).
- *attempt rows*: the ledger. A row is written (`started`) before each call and
  the answer is written onto it; a row still `started` once its lease has run out
  lost its worker mid-call, and the sweeper marks it `interrupted` (answer
  unknown; its cost stays at the call's estimate until the reconciler prices it:
  OpenRouter may have billed the call).
- *simulator billed*: what the simulator charged for the tenant's calls (its call
  log, each call's cost); *ledger*: the sum of the tenant's attempts' `cost_usd`
  when every job was terminal, then after the cost reconciler ran (every
  generation id looked up on `GET /generation`, through its 404 window, then the
  day's `GET /activity` per model attributed to the calls with no id). *largest
  gap of a model*: the largest |ledger - billed| of one model after
  reconciliation (must be at most $0.000000001); *still estimated*: attempts
  whose cost is still an estimate; *unknown without a reason*: attempts with no
  cost and no stated reason (must be 0; docs/ledger.md).
- *calls without an attempt row*: per job, calls the simulator answered beyond the
  job's attempt rows (must be 0: the ledger holds every call made). Attempt rows
  may exceed calls by the few calls whose worker died between writing the row and
  sending the request.

What the table shows, scenario by scenario:

- **SIGKILL of the whole worker node**: the calls in flight at each kill reach
  OpenRouter but their answers never reach Postgres; their rows stay in the ledger
  and become `interrupted`, and the jobs run again once their lease expires. Those
  rows hold the calls' estimates, so the ledger at the end of the jobs is off the
  bill by what the killed calls really cost; with no generation id (the calls were
  not streamed) the day's activity for the model is what prices them, and after
  reconciliation the ledger equals the bill.
- **The same with a batch**: its items travel 16 to a message and are claimed in
  one statement; a kill leaves each claimed item's lease to expire like any job's.
- **SIGKILL of a worker process**: the node stops as a whole and is restarted (as
  systemd or Kubernetes would); the same recovery through leases.
- **Postgres stop**: a worker whose answer cannot be stored keeps retrying the write
  (backoff up to 10 s, for at most the job's lease; the writes are idempotent: the
  answer goes onto its attempt's row and the job's end is guarded by its claim
  token), so no call is repeated; no call starts while the row before it cannot be
  written.
- **FLUSHALL + Redis restart**: every message is lost; the sweeper re-sends every job
  still `queued` past HELIXQ_QUEUED_STALE_S whose tenant's queue is now empty (a
  queue that still holds messages is being drained, and its jobs are re-sent only
  after ten stale periods) and every `running` job whose lease expired, and the
  claim keeps each job to one execution. Beat's lock and schedule go with the
  rest: beat finds its lock gone at its next tick, takes it again and installs its
  schedule anew, so the sweeps go on.
- **Every message twice**: each job is sent once more besides the API's message;
  the second delivery finds the job claimed or finished and returns without a call.

## The discount lane

Each scenario submits one batch of {lines} lines on lane `discount` over two models
(`openai/gpt-4o-mini`, `anthropic/claude-3.5-haiku`), upstream batches of at most 100
lines, the simulator's Batch API answering in about 4 s; upstream batches are sent
and polled every second and a lost POST answer is looked for after 3 s.

{discount_table(discount_rows)}

- *lines with 2 results*: lines with more than one succeeded attempt (must be 0).
- *lines sent twice*: custom_ids the simulator received in more than one upstream
  batch (must be 0: helixq never pays twice for a line).
- *realtime attempts*: lines of an upstream batch that failed or expired run on the
  realtime lane.
- *recovery*: from the batch's POST to its last line terminal, faults included.
- **SIGKILL during submission**: an upstream batch's row is committed before its
  POST; one whose answer died with the worker is looked for upstream before any
  resend, and found.
- **SIGKILL during result ingestion**: the results of an upstream batch are stored
  in one transaction under its row lock; a killed transaction stores nothing and
  the next poll stores everything once.
- **An upstream batch fails / expires**: its lines run realtime at once.
- **A lost POST answer**: the upstream batch is found in OpenRouter's list and
  adopted; nothing is sent again.
"""
    )
