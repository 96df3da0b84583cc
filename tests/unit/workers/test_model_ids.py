"""Model ids as sent to OpenRouter."""

import pytest

from shared.model_ids import upstream_model_id


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("openrouter/anthropic/claude-3.5-sonnet", "anthropic/claude-3.5-sonnet"),
        ("openrouter/openai/gpt-4o:free", "openai/gpt-4o:free"),
        ("openrouter/auto", "openrouter/auto"),
        ("openrouter/free", "openrouter/free"),
        ("anthropic/claude-3.5-sonnet", "anthropic/claude-3.5-sonnet"),
        ("openai/gpt-4o-mini", "openai/gpt-4o-mini"),
    ],
)
def test_upstream_model_id_strips_the_prefix_except_for_routers(given, sent):
    assert upstream_model_id(given) == sent
