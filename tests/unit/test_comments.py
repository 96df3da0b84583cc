"""Comments and docstrings: they point only at files the repository holds (a reader
who follows a path must find it), and quote no measured figures (they go stale;
docs/benchmarks.md keeps the current ones)."""

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("broker_api", "shared", "workers", "helixq", "simulator", "bench", "tests")
# Benches and tests measure: only the product's own packages are held to no figures.
FIGURE_FREE = ("broker_api", "shared", "workers")
TOP_FOLDERS = "broker_api|shared|workers|helixq|simulator|bench|tests|docs|deploy"
# A path under a top folder, a bare document name (found at the top or in docs/),
# or the design notes that live outside the repository.
CITATION = re.compile(
    rf"(?<![\w./-])((?:{TOP_FOLDERS})/[\w./-]*\w)"
    r"|(?<![\w./-])([\w-]+\.(?:md|json|txt))\b"
    r"|\b(STYLE|ARCHITECTURE)\b"
)
# A figure someone measured: "~0.5 ms", "6 ms a claim", "+10% jobs/s", "15% of".
MEASURED = re.compile(
    r"~\s?\d|\d+(?:\.\d+)?\s?ms\s+(?:of|a|an|per)\b|[+-]?\d+(?:\.\d+)?%|jobs/s\b"
)
DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _prose(source: str) -> Iterator[tuple[int, str]]:
    """Every comment and docstring of a module, with its first line."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, DOCUMENTED):
            docstring = ast.get_docstring(node, clean=False)
            if docstring:
                yield getattr(node, "lineno", 1), docstring


def _modules(folders: tuple[str, ...]) -> list[Path]:
    return sorted(
        path
        for folder in folders
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts
    )


def _exists(cited: str) -> bool:
    if (ROOT / cited).exists():
        return cited not in ("STYLE", "ARCHITECTURE")
    return "/" not in cited and (ROOT / "docs" / cited).is_file()


def _missing_citations(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    if not CITATION.search(source):
        return []  # most modules cite nothing; tokenizing them all is slow
    cited = {
        name
        for _, text in _prose(source)
        for match in CITATION.findall(text)
        for name in match
        if name
    }
    return sorted(target for target in cited if not _exists(target))


def test_comments_cite_only_files_in_the_repository() -> None:
    missing = {
        str(path.relative_to(ROOT)): cited
        for path in _modules(SCANNED)
        if (cited := _missing_citations(path))
    }
    assert missing == {}


def test_a_citation_of_a_missing_file_is_found(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        '"""See docs/limits.md, docs/nowhere.md and errors.md."""\n'
        "# as bench/nowhere.py measured, says nowhere.json after STYLE\n"
        "PATH = 'docs/not-a-comment.md'\n"
    )
    assert _missing_citations(module) == [
        "STYLE",
        "bench/nowhere.py",
        "docs/nowhere.md",
        "nowhere.json",
    ]


@pytest.mark.parametrize("package", FIGURE_FREE)
def test_comments_quote_no_measured_figures(package: str) -> None:
    quoted = [
        f"{path.relative_to(ROOT)}:{line}: {match.group(0)!r}"
        for path in _modules((package,))
        for line, prose in _prose(path.read_text(encoding="utf-8"))
        for match in MEASURED.finditer(prose)
    ]
    assert quoted == []
