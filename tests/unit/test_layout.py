"""The tree is the architecture: where worker code lives, and which modules change a
job's status."""

import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The packages whose modules may change a job's status.
PRODUCT = ("workers", "shared", "broker_api")
# workers/ top level: the package itself and the entry point `helixq worker|beat` runs.
WORKERS_TOP_LEVEL = {"__init__.py", "entrypoints.py"}

# Statements that move a job to another status, as SQL text or SQLAlchemy Core.
STATUS_CHANGE = re.compile(
    r"UPDATE\s+jobs\s+SET\b[^;]{0,400}?\bstatus\s*=|"
    r"update\(Job\)[^;]{0,300}?\.values\([^)]*\bstatus=",
    re.IGNORECASE,
)
# Every status change a worker makes (the job's own path, and the periodic tasks');
# the API's one (a batch's queued items cancelled, in its own transaction) stays
# with the API, which cannot import workers.
STATUS_CHANGERS = {
    "workers/jobs/transitions.py",
    "workers/jobs/periodic_transitions.py",
    "broker_api/batches/queries.py",
}


def _sources() -> Iterator[Path]:
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_workers_top_level_holds_only_its_entry_points() -> None:
    top_level = {path.name for path in (ROOT / "workers").glob("*.py")}
    assert top_level <= WORKERS_TOP_LEVEL, sorted(top_level - WORKERS_TOP_LEVEL)


def test_every_job_status_change_is_a_statement_of_the_transitions_modules() -> None:
    changers = {
        str(path.relative_to(ROOT))
        for path in _sources()
        if STATUS_CHANGE.search(path.read_text(encoding="utf-8"))
    }
    assert changers == STATUS_CHANGERS
