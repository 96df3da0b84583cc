from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from shared.errors import SettingsError
from shared.settings import WebhookSettings, load_settings
from shared.webhooks.schedule import next_delay_s, retry_after_s, retry_delay_s

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DEFAULT_S = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


@pytest.fixture(autouse=True)
def clean_environment(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No .env file and none of the webhook variables of the developer's shell."""
    monkeypatch.chdir(tmp_path)
    for name in (
        "HELIXQ_WEBHOOK_ALLOW_PRIVATE",
        "HELIXQ_WEBHOOK_TIMEOUT_S",
        "HELIXQ_WEBHOOK_RETRY_SCHEDULE",
    ):
        monkeypatch.delenv(name, raising=False)


def test_default_schedule_is_the_issue_s() -> None:
    settings = load_settings(WebhookSettings)
    assert settings.webhook_retry_delays_s == DEFAULT_S
    assert settings.helixq_webhook_timeout_s == 15
    assert settings.helixq_webhook_allow_private is False


def test_schedule_and_flags_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HELIXQ_WEBHOOK_RETRY_SCHEDULE", "1s, 2m,500ms")
    monkeypatch.setenv("HELIXQ_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("HELIXQ_WEBHOOK_TIMEOUT_S", "2s")
    settings = load_settings(WebhookSettings)
    assert settings.webhook_retry_delays_s == (1.0, 120.0, 0.5)
    assert settings.helixq_webhook_allow_private is True
    assert settings.helixq_webhook_timeout_s == 2


def test_bad_schedule_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIXQ_WEBHOOK_RETRY_SCHEDULE", "5s,soon")
    with pytest.raises(SettingsError, match="HELIXQ_WEBHOOK_RETRY_SCHEDULE"):
        load_settings(WebhookSettings)


@pytest.mark.parametrize(
    ("attempts_made", "expected"),
    [(1, 5.0), (2, 300.0), (3, 1800.0), (7, 36000.0), (8, None), (0, None)],
)
def test_retry_delay_follows_the_schedule(
    attempts_made: int, expected: float | None
) -> None:
    assert retry_delay_s(DEFAULT_S, attempts_made) == expected


def test_empty_schedule_never_retries() -> None:
    assert retry_delay_s((), 1) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        (format_datetime(NOW + timedelta(minutes=2), usegmt=True), 120.0),
        (format_datetime(NOW - timedelta(minutes=2), usegmt=True), 0.0),
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(
    header: str | None, expected: float | None
) -> None:
    assert retry_after_s(header, now=NOW) == expected


def test_retry_after_replaces_the_scheduled_wait() -> None:
    assert next_delay_s(DEFAULT_S, 1, retry_after=120.0) == 120.0


def test_retry_after_is_capped_by_the_longest_wait() -> None:
    assert next_delay_s(DEFAULT_S, 1, retry_after=10**9) == 36000.0


def test_retry_after_buys_no_extra_tries() -> None:
    assert next_delay_s(DEFAULT_S, 8, retry_after=1.0) is None
