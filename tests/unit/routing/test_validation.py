from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.errors import InvalidRequest, SettingsError
from shared.routing.classifier import RequestClass
from shared.routing.pool import PoolEntry, TenantRouting, parse_pool, tenant_routing_of
from shared.routing.validation import (
    check_configured_models,
    validate_pool,
    validate_route,
)
from shared.strategies import FallbackStrategy, ModelSubstitution, RouteStrategy

CATALOG = {
    "openai/gpt-4o-mini",
    "openai/gpt-4o",
    "anthropic/claude-sonnet-4.5",
    "openrouter/auto",
}


def _error(call, *args):
    with pytest.raises(InvalidRequest) as caught:
        call(*args)
    return caught.value


def test_unknown_model_is_refused_with_close_matches():
    error = _error(validate_route, {"model": "openai/gpt-4o-mni"}, CATALOG)
    assert error.details["suggestions"][0] == "openai/gpt-4o-mini"
    assert error.details["field"] == "model"
    assert "did you mean" in error.message


def test_unknown_model_in_the_models_list_is_refused():
    error = _error(
        validate_route,
        {"model": "openai/gpt-4o", "models": ["anthropic/claude-sonet-4.5"]},
        CATALOG,
    )
    assert error.details["value"] == "anthropic/claude-sonet-4.5"


def test_known_models_prefix_and_shortcut_variants_pass():
    validate_route(
        {
            "model": "openrouter/openai/gpt-4o",
            "models": ["openai/gpt-4o:nitro", "openrouter/auto"],
        },
        CATALOG,
    )


def test_empty_catalog_accepts_any_model():
    validate_route({"model": "made/up"}, set())


def test_unknown_strategy_names_are_refused_with_suggestions():
    error = _error(validate_route, {"route": {"strategy": "round-robin"}}, CATALOG)
    assert error.details["suggestions"] == ["round_robin"]
    error = _error(validate_route, {"route": {"fallback": "nope"}}, CATALOG)
    assert error.details["field"] == "route.fallback"


def test_pool_entries_are_validated():
    assert parse_pool([{"model": "openrouter/a/b"}]) == (PoolEntry("a/b", 1, None),)
    assert (
        _error(parse_pool, [{"model": "a/b", "weight": 0}]).details["field"]
        == "model_pool[0].weight"
    )
    assert (
        _error(parse_pool, [{"model": "a/b", "tier": "coding"}]).details["suggestions"][
            0
        ]
        == "code"
    )
    assert (
        "more than once"
        in _error(parse_pool, [{"model": "a/b"}, {"model": "a/b"}]).message
    )
    assert _error(parse_pool, [{"weight": 2}]).details["field"] == "model_pool[0]"


def test_pool_and_default_models_must_be_in_the_catalog():
    validate_pool(
        parse_pool([{"model": "openai/gpt-4o"}]), "openai/gpt-4o-mini", CATALOG
    )
    error = _error(
        validate_pool, parse_pool([{"model": "openai/gpt-5o"}]), None, CATALOG
    )
    assert error.details["field"] == "model_pool"
    assert _error(validate_pool, (), "x/y", CATALOG).details["field"] == "default_model"


def test_configured_models_missing_from_the_catalog_are_refused_by_variable():
    configured = {
        "OPENROUTER_DEFAULT_MODEL": "nosuch/model",
        "OPENROUTER_TENANT_1_DEFAULT_MODEL": "anthropic/claude-sonet-4.5",
        "OPENROUTER_TENANT_2_DEFAULT_MODEL": "openrouter/openai/gpt-4o",
        "OPENROUTER_TENANT_3_DEFAULT_MODEL": None,
    }
    with pytest.raises(SettingsError) as caught:
        check_configured_models(configured, CATALOG)
    message = caught.value.message
    assert message == (
        "invalid OPENROUTER_DEFAULT_MODEL='nosuch/model': not in the model catalog; "
        "invalid OPENROUTER_TENANT_1_DEFAULT_MODEL='anthropic/claude-sonet-4.5': "
        "not in the model catalog (did you mean 'anthropic/claude-sonnet-4.5'?)"
    )


def test_configured_models_are_accepted_while_the_catalog_is_empty():
    check_configured_models({"OPENROUTER_DEFAULT_MODEL": "made/up"}, set())
    check_configured_models(
        {"OPENROUTER_DEFAULT_MODEL": "openai/gpt-4o:nitro"}, CATALOG
    )


@dataclass
class _Row:
    slug: str = "acme"
    default_model: str | None = "openrouter/openai/gpt-4o"
    route_strategy: str | None = "weighted"
    fallback_strategy: str | None = "none"
    model_pool: list[dict[str, Any]] = field(
        default_factory=lambda: [{"model": "a/b", "weight": 3, "tier": "code"}]
    )
    model_substitution: str | None = "on_failure"


def test_tenant_row_becomes_routing_input():
    routing = tenant_routing_of(_Row())
    assert routing == TenantRouting(
        scope="acme",
        default_model="openai/gpt-4o",
        route_strategy=RouteStrategy.WEIGHTED,
        fallback_strategy=FallbackStrategy.NONE,
        pool=(PoolEntry("a/b", 3, RequestClass.CODE),),
        model_substitution=ModelSubstitution.ON_FAILURE,
    )


def test_corrupt_tenant_model_substitution_is_an_error_not_a_default():
    row = _Row(model_substitution="sometimes")
    assert _error(tenant_routing_of, row).details["field"] == "model_substitution"


def test_corrupt_tenant_strategy_is_an_error_not_a_default():
    row = _Row(route_strategy="fastest")
    assert _error(tenant_routing_of, row).details["field"] == "route_strategy"
