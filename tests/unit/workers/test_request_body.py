"""The body sent to OpenRouter for one candidate model."""

from workers.openrouter.request_body import upstream_body


def test_upstream_body_sets_the_model_and_normalises_fallbacks():
    request = {"messages": [], "models": ["openrouter/x/y", "openrouter/auto"]}

    body = upstream_body(request, "a/b")

    assert body == {
        "messages": [],
        "model": "a/b",
        "models": ["x/y", "openrouter/auto"],
    }
    assert "model" not in request
