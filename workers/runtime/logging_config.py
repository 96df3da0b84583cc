"""How a worker process logs: shared.logging_setup's format and redaction, and no
line per task on the hot path."""

import logging

from shared.logging_setup import LoggingSettings
from shared.logging_setup import configure_logging as configure_shared
from shared.settings import load_settings

# Celery logs "received" and "succeeded" for every task at INFO: two lines a job on
# the hot path, which slow the worker down. They show at DEBUG.
PER_TASK_LOGGERS = ("celery.app.trace", "celery.worker.strategy")


def configure_logging(loglevel: str | int = "INFO") -> None:
    """Log to stderr at `loglevel` (HELIXQ_LOG_FORMAT: text or json, secrets
    masked); per-task Celery lines only at DEBUG."""
    configure_shared(load_settings(LoggingSettings), loglevel)
    level = logging.getLogger().level
    per_task_level = logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    for name in PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(per_task_level)
