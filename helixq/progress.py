"""A batch's progress on stderr: a bar redrawn in place on a terminal, or a line
now and then when the output is a file or a pipe (no escape codes in logs)."""

import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 30
LINE_EVERY_S = 10.0  # how often a non-terminal gets a line


def render_bar(done: int, total: int, *, failed: int, status: str) -> str:
    """`[#######.......]  7/20  35%  1 failed  in_progress`."""
    share = done / total if total else 0.0
    filled = round(share * BAR_WIDTH)
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    failures = f"  {failed} failed" if failed else ""
    return f"[{bar}] {done}/{total} {share:4.0%}{failures}  {status}"


class Progress:
    """Draws the bar; `is_tty` picks in-place redraws or periodic lines."""

    def __init__(
        self,
        stream: TextIO,
        *,
        is_tty: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._is_tty = is_tty
        self._clock = clock
        self._last_line_at: float | None = None
        self._last_text = ""  # drawn last
        self._written = ""  # last written as a whole line (not a terminal)

    def update(self, done: int, total: int, *, failed: int, status: str) -> None:
        text = render_bar(done, total, failed=failed, status=status)
        if self._is_tty:
            # Pad so that a shorter line fully covers the previous one.
            self._stream.write("\r" + text.ljust(len(self._last_text)))
        elif text != self._written and self._is_due():
            self._write_line(text)
        self._last_text = text
        self._stream.flush()

    def finish(self) -> None:
        """End the bar's line, and show the final state once when not a terminal."""
        if self._is_tty:
            self._stream.write("\n")
        elif self._last_text != self._written:
            self._write_line(self._last_text)
        self._stream.flush()

    def _write_line(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._written = text

    def _is_due(self) -> bool:
        now = self._clock()
        if self._last_line_at is None or now - self._last_line_at >= LINE_EVERY_S:
            self._last_line_at = now
            return True
        return False
