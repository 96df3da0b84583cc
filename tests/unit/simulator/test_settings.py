"""SimulatorSettings read from HELIXQ_SIM_* variables."""

from decimal import Decimal

import pytest

from simulator.settings import SimulatorSettings


def test_env_mappings_and_lists_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIXQ_SIM_MODEL_LATENCY_MS", "openai/gpt-4o=120, sim/ok=5")
    monkeypatch.setenv("HELIXQ_SIM_MODEL_FAILURE_RATE", "openai/gpt-4o=0.5")
    monkeypatch.setenv("HELIXQ_SIM_API_KEYS", "sk-or-a, sk-or-b")
    monkeypatch.setenv("HELIXQ_SIM_CREDIT_LIMIT_USD", "2.5")
    settings = SimulatorSettings(_env_file=None)
    assert settings.model_latency_ms == {"openai/gpt-4o": 120, "sim/ok": 5}
    assert settings.model_failure_rate == {"openai/gpt-4o": 0.5}
    assert settings.api_keys == ("sk-or-a", "sk-or-b")
    assert settings.credit_limit_usd == Decimal("2.5")


def test_defaults_match_the_documented_values() -> None:
    settings = SimulatorSettings(_env_file=None)
    assert settings.latency_ms == 50
    assert settings.completion_tokens == 32
    assert settings.credits_usd == 1000
    assert settings.credit_limit_usd is None
    assert (settings.free_requests_per_minute, settings.free_requests_per_day) == (
        20,
        1000,
    )


def test_malformed_mapping_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIXQ_SIM_MODEL_LATENCY_MS", "no-equals-sign")
    with pytest.raises(ValueError, match="model=value"):
        SimulatorSettings(_env_file=None)


def test_batch_knobs_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIXQ_SIM_BATCH_VALIDATING_S", "0.5")
    monkeypatch.setenv("HELIXQ_SIM_BATCH_IN_PROGRESS_S", "3")
    monkeypatch.setenv("HELIXQ_SIM_BATCH_CANCEL", "403")
    monkeypatch.setenv("HELIXQ_SIM_BATCH_RESULTS", "paged")
    monkeypatch.setenv("HELIXQ_SIM_BATCH_CALLBACK_SECRET", "whsec-test")
    settings = SimulatorSettings(_env_file=None)
    assert (settings.batch_validating_s, settings.batch_in_progress_s) == (0.5, 3.0)
    assert settings.batch_cancel == "403"
    assert settings.batch_results == "paged"
    assert settings.batch_callback_secret is not None
    assert settings.batch_callback_secret.get_secret_value() == "whsec-test"
    assert "whsec-test" not in repr(settings)


def test_batch_defaults() -> None:
    settings = SimulatorSettings(_env_file=None)
    assert settings.batch_cancel == "enabled"
    assert settings.batch_results == "both"
    assert settings.batch_window_s == 86400
    assert settings.batch_max_requests == 5000
    assert settings.batch_callback_secret is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HELIXQ_SIM_BATCH_CANCEL", "sometimes"),
        ("HELIXQ_SIM_BATCH_RESULTS", "email"),
        ("HELIXQ_SIM_BATCH_VALIDATING_S", "-1"),
        ("HELIXQ_SIM_BATCH_WINDOW_S", "0"),
    ],
)
def test_bad_batch_knobs_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name.removeprefix("HELIXQ_SIM_").lower()):
        SimulatorSettings(_env_file=None)
