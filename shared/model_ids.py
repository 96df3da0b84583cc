"""Model ids as OpenRouter expects them (pure)."""

OPENROUTER_PREFIX = "openrouter/"


def upstream_model_id(model_id: str) -> str:
    """`model_id` as sent to OpenRouter: a leading `openrouter/` is dropped unless
    the rest is one of OpenRouter's own routers (`openrouter/auto`, `openrouter/free`).

    `openrouter/anthropic/claude-3.5-sonnet` → `anthropic/claude-3.5-sonnet`;
    `openrouter/auto` stays as it is.
    """
    if not model_id.startswith(OPENROUTER_PREFIX):
        return model_id
    rest = model_id[len(OPENROUTER_PREFIX) :]
    return rest if "/" in rest else model_id
