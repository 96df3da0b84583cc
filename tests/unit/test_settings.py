import pytest

from broker_api.settings import ApiSettings
from shared.db.session import connect_options
from shared.errors import SettingsError
from shared.settings import (
    DatabaseSettings,
    RoutingSettings,
    SealingSettings,
    TenantSeedSettings,
    load_settings,
)
from shared.strategies import RouteStrategy

OPENROUTER_KEY = "sk-or-v1-" + "0e6f" * 16


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env leaks into these tests
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1/x")


def test_bad_value_names_the_variable_and_what_it_accepts(monkeypatch) -> None:
    monkeypatch.setenv("OPENROUTER_ROUTE_STRATEGY", "cheapest")
    with pytest.raises(SettingsError) as caught:
        load_settings(ApiSettings)
    assert "OPENROUTER_ROUTE_STRATEGY='cheapest'" in str(caught.value)
    assert "cost_optimized" in str(caught.value)


def test_missing_database_url_is_reported(monkeypatch) -> None:
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(SettingsError, match="invalid DATABASE_URL"):
        load_settings(ApiSettings)


def test_secret_values_are_never_echoed(monkeypatch) -> None:
    monkeypatch.setenv("HELIXQ_ADMIN_TOKEN", "x" * 5000)
    monkeypatch.setenv("HELIXQ_API_PORT", "not-a-port")
    with pytest.raises(SettingsError) as caught:
        load_settings(ApiSettings)
    assert "xxxxx" not in str(caught.value)
    assert "HELIXQ_API_PORT" in str(caught.value)


def test_cost_optimized_flag_selects_the_cost_strategy(monkeypatch) -> None:
    monkeypatch.setenv("OPENROUTER_COST_OPTIMIZED", "true")
    assert (
        load_settings(RoutingSettings).default_strategy is RouteStrategy.COST_OPTIMIZED
    )


def test_tenants_are_read_from_numbered_variables(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("OPENROUTER_TENANT_2_NAME", "Beta")
    monkeypatch.setenv("OPENROUTER_TENANT_1_NAME", "Acme")
    monkeypatch.setenv("OPENROUTER_TENANT_1_API_KEY", OPENROUTER_KEY)
    monkeypatch.setenv("HELIXQ_TENANT_1_CLIENT_KEY", "acme-secret-key-0123456789")
    monkeypatch.setenv("OPENROUTER_TENANT_1_DEFAULT_MODEL", "openai/gpt-4o")
    (tmp_path / ".env").write_text("OPENROUTER_TENANT_3_NAME=Gamma\n")
    seeds = load_settings(TenantSeedSettings).tenants
    assert [seed.name for seed in seeds] == ["Acme", "Beta", "Gamma"]
    assert seeds[0].default_model == "openai/gpt-4o"
    assert seeds[0].api_key is not None
    assert seeds[0].api_key.get_secret_value() == OPENROUTER_KEY
    assert seeds[0].client_key is not None
    assert seeds[0].client_key.get_secret_value() == "acme-secret-key-0123456789"
    assert "acme-secret" not in repr(seeds[0])
    assert OPENROUTER_KEY not in repr(seeds[0])
    assert seeds[1].api_key is None  # Beta's calls use OPENROUTER_API_KEY


def test_bad_tenant_strategy_is_reported(monkeypatch) -> None:
    monkeypatch.setenv("OPENROUTER_TENANT_1_NAME", "Acme")
    monkeypatch.setenv("OPENROUTER_TENANT_1_ROUTE_STRATEGY", "fastest")
    with pytest.raises(SettingsError, match="OPENROUTER_TENANT_1_ROUTE_STRATEGY"):
        load_settings(TenantSeedSettings)


def test_a_bad_tenant_variable_is_named_by_its_tenant_number(monkeypatch) -> None:
    monkeypatch.setenv("OPENROUTER_TENANT_1_NAME", "Acme")
    monkeypatch.setenv("OPENROUTER_TENANT_2_NAME", "Beta")
    monkeypatch.setenv("OPENROUTER_TENANT_2_ROUTE_STRATEGY", "cheapest")
    monkeypatch.setenv("OPENROUTER_TENANT_7_FALLBACK_STRATEGY", "fastest")
    with pytest.raises(SettingsError) as caught:
        load_settings(TenantSeedSettings)
    message = caught.value.message
    assert "invalid OPENROUTER_TENANT_2_ROUTE_STRATEGY='cheapest'" in message
    assert "invalid OPENROUTER_TENANT_7_FALLBACK_STRATEGY='fastest'" in message
    assert "'cost_optimized'" in message  # what is allowed
    assert "TENANTS" not in message
    assert "\n" not in message


def test_a_short_tenant_client_key_is_named_and_never_echoed(monkeypatch) -> None:
    monkeypatch.setenv("OPENROUTER_TENANT_2_NAME", "Beta")
    monkeypatch.setenv("HELIXQ_TENANT_2_CLIENT_KEY", "hqk_short")
    with pytest.raises(SettingsError) as caught:
        load_settings(TenantSeedSettings)
    message = caught.value.message
    assert message == (
        "invalid HELIXQ_TENANT_2_CLIENT_KEY: an API key needs at least 20 characters"
    )


@pytest.mark.parametrize(
    "value",
    [
        "hqk_acme_change_me_to_something_long",  # a helixq key, as before
        "sk-or-v1-short",
        "sk-or-v2-0123456789abcdef0123456789abcdef",
        "sk-or-v1-0123456789abcdef 0123456789abcdef",
    ],
)
def test_a_tenant_api_key_that_is_not_an_openrouter_key_is_refused_in_one_line(
    monkeypatch, value: str
) -> None:
    monkeypatch.setenv("OPENROUTER_TENANT_2_NAME", "Beta")
    monkeypatch.setenv("OPENROUTER_TENANT_2_API_KEY", value)
    with pytest.raises(SettingsError) as caught:
        load_settings(TenantSeedSettings)
    message = caught.value.message
    assert message.startswith(
        "invalid OPENROUTER_TENANT_2_API_KEY: not an OpenRouter key (an OpenRouter "
        "key looks like sk-or-v1-<64 hex characters>); the key the tenant's clients "
        "send to helixq goes in HELIXQ_TENANT_<N>_CLIENT_KEY"
    )
    assert value not in message
    assert "\n" not in message


def test_a_secret_key_too_short_to_seal_with_is_refused_without_echo(
    monkeypatch,
) -> None:
    monkeypatch.setenv("HELIXQ_SECRET_KEY", "f" * 44 + ",too-short")
    with pytest.raises(SettingsError) as caught:
        load_settings(SealingSettings)
    assert caught.value.message == (
        "invalid HELIXQ_SECRET_KEY: key 2 is neither a Fernet key nor 32 "
        "characters or more"
    )


def test_model_substitution_is_read_per_tenant_and_for_the_deployment(
    monkeypatch,
) -> None:
    monkeypatch.setenv("HELIXQ_MODEL_SUBSTITUTION", "on_failure")
    monkeypatch.setenv("OPENROUTER_TENANT_1_MODEL_SUBSTITUTION", "any")
    routing = load_settings(RoutingSettings)
    assert routing.helixq_model_substitution == "on_failure"
    assert load_settings(TenantSeedSettings).tenants[0].model_substitution == "any"
    monkeypatch.setenv("OPENROUTER_TENANT_1_MODEL_SUBSTITUTION", "always")
    with pytest.raises(SettingsError) as caught:
        load_settings(TenantSeedSettings)
    assert "invalid OPENROUTER_TENANT_1_MODEL_SUBSTITUTION='always'" in str(
        caught.value
    )
    assert "'on_failure'" in str(caught.value)


def test_prepared_statements_are_on_unless_turned_off(monkeypatch) -> None:
    assert connect_options(load_settings(DatabaseSettings)) == {}
    monkeypatch.setenv("DATABASE_PREPARED_STATEMENTS", "false")
    # psycopg then prepares nothing, not even statements run with prepare=True.
    assert connect_options(load_settings(DatabaseSettings)) == {
        "prepare_threshold": None
    }
