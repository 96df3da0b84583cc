"""Redaction of secrets, the JSON and text formats, the job/tenant context."""

import io
import json
import logging

import pytest
from pydantic import SecretStr

from shared.logging_setup import LoggingSettings, bind_tenant, log_context, make_handler
from shared.redaction import RedactionFilter, redact


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("key sk-or-v1-abc123DEF_456", "key sk-or-***"),
        ("use hqk_1a2b3c4d_Zz-9_x please", "use hqk_*** please"),
        ("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=", "secret whsec_***"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
        ("{'authorization': 'bearer tok3n'}", "{'authorization': 'bearer ***'}"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_redact_masks_known_secret_shapes(text: str, masked: str) -> None:
    assert redact(text) == masked


def test_redact_masks_configured_values_verbatim() -> None:
    assert (
        redact("token=admin-token-123456789", ["admin-token-123456789"]) == "token=***"
    )


def _record(
    msg: str, *args: object, exc: BaseException | None = None
) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, exc_info)


def test_filter_masks_arguments_and_tracebacks() -> None:
    try:
        raise ValueError("bad key sk-or-v1-secretvalue")
    except ValueError as error:
        record = _record("calling with %s", {"key": "hqk_abcdefgh_secret"}, exc=error)
    RedactionFilter(["configured-secret-1"]).filter(record)
    assert record.getMessage() == "calling with {'key': 'hqk_***'}"
    assert "sk-or-***" in (record.exc_text or "")
    assert "secretvalue" not in (record.exc_text or "")


def test_filter_ignores_configured_values_too_short_to_be_secrets() -> None:
    record = _record("the word abc stays")
    RedactionFilter(["abc"]).filter(record)
    assert record.getMessage() == "the word abc stays"


def _log_through(settings: LoggingSettings, emit) -> str:
    stream = io.StringIO()
    logger = logging.getLogger("tests.unit.logging")
    handler = make_handler(settings, stream)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_json_lines_carry_job_tenant_and_masked_message() -> None:
    settings = LoggingSettings(
        helixq_log_format="json", helixq_admin_token=SecretStr("the-admin-token-42")
    )

    def emit(logger: logging.Logger) -> None:
        with log_context(job_id="job-1", tenant="acme"):
            logger.info("admin token %s", "the-admin-token-42")
        logger.info("outside")

    first, second = (
        json.loads(line) for line in _log_through(settings, emit).splitlines()
    )
    assert first["message"] == "admin token ***"
    assert (first["job_id"], first["tenant"], first["level"]) == (
        "job-1",
        "acme",
        "INFO",
    )
    assert (second["job_id"], second["tenant"]) == (None, None)
    assert first["ts"].endswith("+00:00")


def test_json_line_holds_the_exception() -> None:
    def emit(logger: logging.Logger) -> None:
        try:
            raise RuntimeError("boom Bearer abcdef")
        except RuntimeError:
            logger.exception("failed")

    line = json.loads(_log_through(LoggingSettings(helixq_log_format="json"), emit))
    assert "RuntimeError: boom Bearer ***" in line["exc"]


def test_text_lines_show_the_context_when_set() -> None:
    def emit(logger: logging.Logger) -> None:
        with log_context(job_id="job-2"):
            bind_tenant("beta")
            logger.info("inside")
        logger.info("outside")

    inside, outside = _log_through(LoggingSettings(), emit).splitlines()
    assert inside.endswith("tests.unit.logging [tenant=beta job=job-2]: inside")
    assert outside.endswith("tests.unit.logging: outside")
