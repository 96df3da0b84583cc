"""The tree is the architecture: where worker code lives, and what comments cite."""

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The packages whose comments and docstrings are held to the rules below.
COMMENTED = ("workers", "shared", "broker_api")
# workers/ top level: the package itself and the entry point `helixq worker|beat` runs.
WORKERS_TOP_LEVEL = {"__init__.py", "entrypoints.py"}

# A file named by its path, or the design notes that live outside the repository.
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
CITED_FILE = re.compile(r"[\w./-]*[\w-]+\.(?:md|json|txt)\b|\bSTYLE\b|\bARCHITECTURE\b")
# A figure someone measured: "~0.5 ms", "6 ms a claim", "+10% jobs/s", "15% of".
MEASURED = re.compile(
    r"~\s?\d|\d+(?:\.\d+)?\s?ms\s+(?:of|a|an|per)\b|[+-]?\d+(?:\.\d+)?%|jobs/s\b"
)


def _sources() -> Iterator[Path]:
    for package in COMMENTED:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _prose(path: Path) -> Iterator[tuple[int, str]]:
    """The comments and docstrings of a module, with their first line."""
    text = path.read_text(encoding="utf-8")
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(text)):
        if isinstance(
            node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        ):
            docstring = ast.get_docstring(node, clean=False)
            if docstring is not None:
                yield getattr(node, "lineno", 1), docstring


def _exists(cited: str) -> bool:
    if "." not in cited:
        return False
    if "/" in cited:
        return (ROOT / cited).is_file()
    return (ROOT / cited).is_file() or (ROOT / "docs" / cited).is_file()


def test_workers_top_level_holds_only_its_entry_points() -> None:
    top_level = {path.name for path in (ROOT / "workers").glob("*.py")}
    assert top_level <= WORKERS_TOP_LEVEL, sorted(top_level - WORKERS_TOP_LEVEL)


@pytest.mark.parametrize("package", COMMENTED)
def test_comments_cite_only_files_in_the_repository(package: str) -> None:
    missing = [
        f"{path.relative_to(ROOT)}:{line}: {cited}"
        for path in _sources()
        if path.relative_to(ROOT).parts[0] == package
        for line, prose in _prose(path)
        for cited in CITED_FILE.findall(prose)
        if not _exists(cited)
    ]
    assert missing == []


@pytest.mark.parametrize("package", COMMENTED)
def test_comments_quote_no_measured_figures(package: str) -> None:
    # Figures go stale in comments; docs/benchmarks.md keeps the current ones.
    quoted = [
        f"{path.relative_to(ROOT)}:{line}: {match.group(0)!r}"
        for path in _sources()
        if path.relative_to(ROOT).parts[0] == package
        for line, prose in _prose(path)
        for match in MEASURED.finditer(prose)
    ]
    assert quoted == []


def test_every_job_status_change_is_a_statement_of_the_transitions_modules() -> None:
    changers = {
        str(path.relative_to(ROOT))
        for path in _sources()
        if STATUS_CHANGE.search(path.read_text(encoding="utf-8"))
    }
    assert changers == STATUS_CHANGERS
