"""`make chaos`: inject each fault while jobs are in flight, check nothing was lost
or run twice, print the table and write docs/reliability.md.

Owns every server it uses (embedded PostgreSQL, redis-server, simulator, worker,
beat), all on loopback, in a temporary folder; bounded by per-scenario deadlines.
"""

import argparse
import tempfile
import time
from pathlib import Path

from bench.chaos.discount import (
    DISCOUNT_FAULTS,
    DiscountRow,
    discount_table,
    run_discount_scenario,
)
from bench.chaos.report import table, write_report
from bench.chaos.scenarios import FAULTS, Row, run_scenario
from bench.chaos.stack import ROOT, running_stack


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=1000, help="discount batches")
    parser.add_argument(
        "--only", choices=sorted([*FAULTS, *DISCOUNT_FAULTS]), action="append"
    )
    parser.add_argument("--no-write", action="store_true")
    options = parser.parse_args()
    started = time.monotonic()
    rows: list[Row] = []
    discount_rows: list[DiscountRow] = []
    names = options.only or [*FAULTS, *DISCOUNT_FAULTS]
    with running_stack(Path(tempfile.mkdtemp(prefix="helixq-chaos-"))) as stack:
        for name in names:
            if name in DISCOUNT_FAULTS:
                row = run_discount_scenario(stack, name, options.lines)
                discount_rows.append(row)
                print(discount_table([row]), flush=True)
            else:
                rows.append(run_scenario(stack, name, options.jobs))
                print(table(rows[-1:]), flush=True)
    print(table(rows))
    print(discount_table(discount_rows))
    print(f"total {time.monotonic() - started:.0f}s")
    if not options.no_write:
        write_report(
            ROOT / "docs" / "reliability.md",
            rows,
            options.jobs,
            discount_rows,
            options.lines,
        )
    if not all(row.ok for row in rows) or not all(row.ok for row in discount_rows):
        raise SystemExit("chaos: a check failed (see the table)")


if __name__ == "__main__":
    main()
