"""How every process logs: JSON in production, readable text in development, the
job id and tenant on every line, secrets masked.

Nothing happens at import: entry points call `configure_logging` once. The job id
and tenant travel in context variables, set by the worker around a job's coroutine
and by the API around a request (`log_context`, `bind_tenant`).
"""

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal, TextIO

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.redaction import RedactionFilter
from shared.settings import ENV_FILES

TEXT_FORMAT = (
    "%(asctime)s %(levelname)s %(processName)s %(name)s%(context_text)s: %(message)s"
)

_job_id: ContextVar[str | None] = ContextVar("helixq_job_id", default=None)
_tenant: ContextVar[str | None] = ContextVar("helixq_tenant", default=None)


class LoggingSettings(BaseSettings):
    """The log format, and the configured secrets to mask verbatim."""

    model_config = SettingsConfigDict(env_file=ENV_FILES, extra="ignore")

    helixq_log_format: Literal["text", "json"] = "text"
    openrouter_api_key: SecretStr | None = None
    helixq_admin_token: SecretStr | None = None
    # The object store's credentials (HELIXQ_FILE_STORAGE=s3): its client logs
    # request headers naming the key id at debug level.
    helixq_s3_access_key_id: SecretStr | None = None
    helixq_s3_secret_access_key: SecretStr | None = None

    def secrets(self) -> list[str]:
        values = (
            self.openrouter_api_key,
            self.helixq_admin_token,
            self.helixq_s3_access_key_id,
            self.helixq_s3_secret_access_key,
        )
        return [value.get_secret_value() for value in values if value is not None]


@contextmanager
def log_context(*, job_id: object = None, tenant: str | None = None) -> Iterator[None]:
    """Tag every line logged inside with `job_id` and `tenant`; restored on exit."""
    job_token = _job_id.set(None if job_id is None else str(job_id))
    tenant_token = _tenant.set(tenant)
    try:
        yield
    finally:
        _tenant.reset(tenant_token)
        _job_id.reset(job_token)


def bind_tenant(slug: str) -> None:
    """Tag the rest of the current request's lines with the tenant (the API's
    middleware opened a `log_context` that restores the previous value)."""
    _tenant.set(slug)


def bind_job(job_id: object) -> None:
    """Tag the rest of the current request's lines with a job id."""
    _job_id.set(str(job_id))


class ContextFilter(logging.Filter):
    """Adds `job_id`, `tenant` and `context_text` (for the text format) to records."""

    def filter(self, record: logging.LogRecord) -> bool:
        job_id, tenant = _job_id.get(), _tenant.get()
        record.job_id, record.tenant = job_id, tenant
        parts = [
            f"tenant={tenant}" if tenant else "",
            f"job={job_id}" if job_id else "",
        ]
        shown = " ".join(part for part in parts if part)
        record.context_text = f" [{shown}]" if shown else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, process, message, job_id,
    tenant, and exc when an exception is attached."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "process": record.processName,
            "message": record.getMessage(),
            "job_id": getattr(record, "job_id", None),
            "tenant": getattr(record, "tenant", None),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str)


def make_handler(
    settings: LoggingSettings, stream: TextIO | None = None
) -> logging.Handler:
    """A handler writing to `stream` (stderr) in the configured format, with the
    context and redaction filters."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter = (
        JsonFormatter()
        if settings.helixq_log_format == "json"
        else logging.Formatter(TEXT_FORMAT)
    )
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactionFilter(settings.secrets()))
    return handler


def configure_logging(settings: LoggingSettings, level: str | int = "INFO") -> None:
    """Replace the root logger's handlers with one configured handler at `level`."""
    resolved = logging.getLevelName(level) if isinstance(level, str) else level
    if not isinstance(resolved, int):
        resolved = logging.INFO
    logging.basicConfig(level=resolved, handlers=[make_handler(settings)], force=True)
