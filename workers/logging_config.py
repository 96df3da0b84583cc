"""How a worker process logs: one format, and no line per task on the hot path."""

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"

# Celery logs "received" and "succeeded" for every task at INFO, which costs ~15% of
# a worker's throughput (shared/reference/baselines.md); they show at DEBUG.
PER_TASK_LOGGERS = ("celery.app.trace", "celery.worker.strategy")


def configure_logging(loglevel: str | int = "INFO") -> None:
    """Log to stderr at `loglevel`; per-task Celery lines only at DEBUG."""
    level = logging.getLevelName(loglevel) if isinstance(loglevel, str) else loglevel
    if not isinstance(level, int):
        level = logging.INFO
    logging.basicConfig(level=level, format=LOG_FORMAT, force=True)
    per_task_level = logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    for name in PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(per_task_level)
