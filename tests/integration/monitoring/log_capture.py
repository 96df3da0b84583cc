"""A root-logger capture through the production handler (format, context,
redaction), without replacing pytest's own handlers."""

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from shared.logging_setup import LoggingSettings, make_handler


@contextmanager
def captured_logs(settings: LoggingSettings) -> Iterator[io.StringIO]:
    """Everything logged inside, at DEBUG, as the configured handler writes it."""
    stream = io.StringIO()
    handler = make_handler(settings, stream)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
