"""`make chaos`: inject each fault while jobs are in flight, check nothing was lost
or run twice, print the table and write docs/reliability.md.

Owns every server it uses (embedded PostgreSQL, redis-server, simulator, worker,
beat), all on loopback, in a temporary folder; bounded by per-scenario deadlines.
"""

import argparse
import tempfile
import time
from pathlib import Path

from bench.chaos.report import table, write_report
from bench.chaos.scenarios import FAULTS, Row, run_scenario
from bench.chaos.stack import ROOT, running_stack


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--only", choices=sorted(FAULTS), action="append")
    parser.add_argument("--no-write", action="store_true")
    options = parser.parse_args()
    started = time.monotonic()
    rows: list[Row] = []
    with running_stack(Path(tempfile.mkdtemp(prefix="helixq-chaos-"))) as stack:
        for name in options.only or list(FAULTS):
            rows.append(run_scenario(stack, name, options.jobs))
            print(table(rows[-1:]), flush=True)
    print(table(rows))
    print(f"total {time.monotonic() - started:.0f}s")
    if not options.no_write:
        write_report(ROOT / "docs" / "reliability.md", rows, options.jobs)
    if not all(row.ok for row in rows):
        raise SystemExit("chaos: a check failed (see the table)")


if __name__ == "__main__":
    main()
