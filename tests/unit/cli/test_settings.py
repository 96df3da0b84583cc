from pathlib import Path

import pytest

from helixq.settings import StackSettings, inherited_environment


def test_blank_values_from_an_env_file_mean_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "")
    monkeypatch.setenv("DATABASE_URL", " ")
    settings = StackSettings()
    assert settings.openrouter_api_key is None
    assert settings.database_url is None


def test_a_leftover_stack_env_is_not_taken_for_a_chosen_server(
    isolated_cwd: Path,
) -> None:
    (isolated_cwd / ".helixq").mkdir()
    (isolated_cwd / ".helixq" / "stack.env").write_text(
        "DATABASE_URL='postgresql://old/helixq'\nREDIS_URL='redis://old:6390/0'\n"
    )
    settings = StackSettings()
    assert settings.database_url is None
    assert settings.redis_url is None


def test_defaults_match_the_documented_ports() -> None:
    settings = StackSettings()
    ports = (settings.helixq_api_port, settings.helixq_flower_port)
    assert ports == (8000, 5555)
    assert (settings.helixq_sim_port, settings.helixq_stack_redis_port) == (8090, 6390)
    assert settings.helixq_sim_latency_ms == 300


def test_durations_accept_units(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIXQ_STACK_GRACE_S", "1500ms")
    assert StackSettings().helixq_stack_grace_s == 1.5


def test_children_inherit_the_environment_plus_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HELIXQ_SOMETHING", "kept")
    env = inherited_environment({"REDIS_URL": "redis://x:1/0"})
    assert env["HELIXQ_SOMETHING"] == "kept"
    assert env["REDIS_URL"] == "redis://x:1/0"
