"""Worker settings refuse what a worker cannot run with, in one line."""

import pytest

from shared.errors import SettingsError
from workers.entrypoints import load_worker_settings
from workers.runtime.settings import WorkerSettings, check_worker_settings

DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/unused"


def _settings(**overrides) -> WorkerSettings:
    values = {"database_url": DATABASE_URL, "openrouter_api_key": "sk-or-v1-x"}
    return WorkerSettings(**{**values, **overrides})


def test_missing_api_key_is_one_clear_line():
    with pytest.raises(SettingsError, match="OPENROUTER_API_KEY is not set") as caught:
        check_worker_settings(_settings(openrouter_api_key=None))

    assert "\n" not in str(caught.value)


def test_missing_api_key_is_fine_when_openrouter_is_disabled():
    check_worker_settings(_settings(openrouter_api_key=None, openrouter_enabled=False))


def test_lease_must_outlast_the_call_timeout():
    with pytest.raises(SettingsError, match="HELIXQ_JOB_LEASE_S"):
        check_worker_settings(
            _settings(helixq_job_lease_s=30, openrouter_timeout="60s")
        )


def test_durations_accept_units():
    settings = _settings(openrouter_timeout="500ms", helixq_job_lease_s="2m")

    assert (settings.openrouter_timeout, settings.helixq_job_lease_s) == (0.5, 120.0)


def test_entry_point_refuses_a_hold_longer_than_the_visibility_timeout(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-x")
    monkeypatch.setenv("HELIXQ_RETRY_MAX_DELAY_S", "2h")

    with pytest.raises(SettingsError, match="visibility timeout"):
        load_worker_settings()


def test_entry_point_applies_the_concurrency_override(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-x")

    assert load_worker_settings(concurrency=7).helixq_worker_concurrency == 7


def test_entry_point_applies_the_processes_override(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-x")

    assert load_worker_settings(processes=3).helixq_worker_processes == 3


def test_a_worker_claims_with_few_threads_and_multiplexes_many_jobs():
    settings = _settings()

    assert settings.helixq_worker_concurrency < settings.helixq_worker_inflight
    assert settings.helixq_broker_ack_emulation is False  # the sweepers re-send
