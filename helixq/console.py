"""What the console script prints: prefixed process output, notices, tables."""

import sys
import threading
from collections.abc import Sequence

NAME_WIDTH = 9  # fits "simulator"
_lock = threading.Lock()  # reader threads print concurrently; keep lines whole


def child_line(name: str, line: str) -> None:
    """One line of a child's output, prefixed with its name: `api       | ...`."""
    with _lock:
        print(f"{name:<{NAME_WIDTH}}| {line}", flush=True)


def say(message: str) -> None:
    child_line("helixq", message)


def shout(message: str) -> None:
    """A line that must not be missed, on stderr so it survives `> /dev/null`."""
    with _lock:
        print(message, file=sys.stderr, flush=True)


def error(message: str) -> None:
    """The one line an expected failure prints."""
    print(f"helixq: {message}", file=sys.stderr, flush=True)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the last column is not padded."""
    widths = [
        max(len(str(cell)) for cell in column)
        for column in zip(headers, *rows, strict=True)
    ]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(
            str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)
        ).rstrip()
        for line in lines
    )
