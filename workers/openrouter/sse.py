"""Server-sent events from OpenRouter's streaming answer, split into their data
(pure).

Comment lines (`: OPENROUTER PROCESSING`) only keep the connection alive and are
dropped; an event's `data:` lines are joined with newlines, as the SSE format says.
"""

from collections.abc import Iterator

DONE = b"[DONE]"


class SseDecoder:
    """Feed it the body's bytes as they arrive; it yields each event's data."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, raw: bytes) -> Iterator[bytes]:
        """The data of every event that `raw` completes, in order."""
        self._buffer += raw
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                return
            line = self._buffer[:end].rstrip(b"\r")
            self._buffer = self._buffer[end + 1 :]
            if not line:  # a blank line ends the event
                if self._data:
                    yield b"\n".join(self._data)
                    self._data = []
            elif line.startswith(b"data:"):
                self._data.append(line[5:].removeprefix(b" "))
            # comments (":") and other fields (event:, id:, retry:) carry nothing here
