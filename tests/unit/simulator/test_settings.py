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
