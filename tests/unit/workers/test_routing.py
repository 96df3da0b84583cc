"""Which model a job tries and the body sent for it."""

from workers.routing import candidate_models, upstream_body


def test_request_model_wins_and_is_normalised():
    request = {"model": "openrouter/anthropic/claude-3.5-sonnet"}

    models = candidate_models(request, tenant_default="a/b", default_model="c/d")

    assert models == ["anthropic/claude-3.5-sonnet"]


def test_tenant_default_then_deployment_default():
    assert candidate_models({}, tenant_default="a/b", default_model="c/d") == ["a/b"]
    assert candidate_models({}, tenant_default=None, default_model="c/d") == ["c/d"]


def test_upstream_body_sets_the_model_and_normalises_fallbacks():
    request = {"messages": [], "models": ["openrouter/x/y", "openrouter/auto"]}

    body = upstream_body(request, "a/b")

    assert body == {
        "messages": [],
        "model": "a/b",
        "models": ["x/y", "openrouter/auto"],
    }
    assert "model" not in request
