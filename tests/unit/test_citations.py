"""Comments and docstrings point only at files the repository holds: a reader who
follows a path must find it."""

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("broker_api", "shared", "workers", "helixq", "simulator", "bench", "tests")
TOP_FOLDERS = "broker_api|shared|workers|helixq|simulator|bench|tests|docs|deploy"
CITATION = re.compile(rf"(?<![\w./-])((?:{TOP_FOLDERS})/[\w./-]*\w)")
DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _prose(source: str) -> Iterator[str]:
    """Every comment and docstring of a module."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, DOCUMENTED):
            docstring = ast.get_docstring(node)
            if docstring:
                yield docstring


def _modules() -> list[Path]:
    return sorted(path for folder in SCANNED for path in (ROOT / folder).rglob("*.py"))


def _missing_citations(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    if not CITATION.search(source):
        return []  # most modules cite nothing; tokenizing them all is slow
    cited = {match for text in _prose(source) for match in CITATION.findall(text)}
    return sorted(target for target in cited if not (ROOT / target).exists())


def test_comments_cite_only_files_in_the_repository() -> None:
    missing = {
        str(path.relative_to(ROOT)): cited
        for path in _modules()
        if (cited := _missing_citations(path))
    }
    assert missing == {}


def test_a_citation_of_a_missing_file_is_found(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        '"""See docs/limits.md and docs/nowhere.md."""\n'
        "# as bench/nowhere.py measured\n"
        "PATH = 'docs/not-a-comment.md'\n"
    )
    assert _missing_citations(module) == ["bench/nowhere.py", "docs/nowhere.md"]
