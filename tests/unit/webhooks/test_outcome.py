from datetime import UTC, datetime, timedelta

import pytest

from shared.settings import WebhookSettings
from shared.webhooks.errors import DestinationRefused, HostUnresolved
from workers.webhooks.outcome import classify
from workers.webhooks.pinned_http import HttpTry

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SETTINGS = WebhookSettings(helixq_webhook_retry_schedule="5s,5m,30m")


def answer(status_code: int | None, **fields: object) -> HttpTry:
    return HttpTry(status_code=status_code, error=None, duration_ms=12, **fields)


def outcome_of(result: HttpTry | DestinationRefused, attempts_made: int = 1):
    return classify(result, attempts_made=attempts_made, settings=SETTINGS, now=NOW)


@pytest.mark.parametrize("code", [200, 201, 202, 204, 299])
def test_2xx_succeeds(code: int) -> None:
    record = outcome_of(answer(code))
    assert record.status == "succeeded"
    assert record.delivered_at == NOW
    assert record.next_attempt_at is None
    assert record.log_entry == {
        "at": NOW.isoformat(),
        "status_code": code,
        "error": None,
        "duration_ms": 12,
    }


@pytest.mark.parametrize("code", [500, 502, 503, 400, 401, 404, 408])
def test_other_answers_retry_on_the_schedule(code: int) -> None:
    assert outcome_of(answer(code)).next_attempt_at == NOW + timedelta(seconds=5)
    second = outcome_of(answer(code), attempts_made=2)
    assert second.status == "pending"
    assert second.next_attempt_at == NOW + timedelta(minutes=5)


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect_is_a_failure_that_is_retried(code: int) -> None:
    record = outcome_of(answer(code))
    assert record.status == "pending"
    assert record.log_entry["error"] == f"redirect {code} not followed"


def test_410_disables() -> None:
    record = outcome_of(answer(410))
    assert record.status == "disabled"
    assert record.next_attempt_at is None


def test_429_honours_retry_after() -> None:
    record = outcome_of(answer(429, retry_after="120"))
    assert record.next_attempt_at == NOW + timedelta(seconds=120)


def test_429_without_retry_after_follows_the_schedule() -> None:
    assert outcome_of(answer(429)).next_attempt_at == NOW + timedelta(seconds=5)


def test_retry_after_is_ignored_on_other_codes() -> None:
    record = outcome_of(answer(503, retry_after="120"))
    assert record.next_attempt_at == NOW + timedelta(seconds=5)


def test_network_error_retries_and_is_logged() -> None:
    record = outcome_of(HttpTry(None, "ReadTimeout: timed out", 15000))
    assert record.status == "pending"
    assert record.log_entry["error"] == "ReadTimeout: timed out"
    assert record.log_entry["status_code"] is None


def test_schedule_used_up_fails() -> None:
    assert outcome_of(answer(500), attempts_made=4).status == "failed"
    assert outcome_of(answer(429, retry_after="1"), attempts_made=4).status == "failed"


def test_refused_destination_fails_at_once() -> None:
    record = outcome_of(DestinationRefused("the host resolves to a loopback address"))
    assert record.status == "failed"
    assert "loopback" in record.log_entry["error"]


def test_unresolved_host_is_retried() -> None:
    record = outcome_of(HostUnresolved("the host does not resolve"))
    assert record.status == "pending"
    assert record.next_attempt_at == NOW + timedelta(seconds=5)
