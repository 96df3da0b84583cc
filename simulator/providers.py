"""Which provider serves each model author, and how it reports finish reasons."""

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Provider:
    """An upstream provider: display name, routing slug and native finish reasons."""

    name: str
    slug: str
    stop_reason: str = "stop"
    length_reason: str = "length"
    tool_reason: str = "tool_calls"


_BY_AUTHOR = MappingProxyType(
    {
        "anthropic": Provider(
            "Anthropic", "anthropic", "end_turn", "max_tokens", "tool_use"
        ),
        "openai": Provider("OpenAI", "openai"),
        "google": Provider("Google", "google-vertex", "STOP", "MAX_TOKENS", "STOP"),
        "meta-llama": Provider("DeepInfra", "deepinfra"),
        "mistralai": Provider("Mistral", "mistral"),
        "deepseek": Provider("DeepSeek", "deepseek"),
        "qwen": Provider("Alibaba", "alibaba"),
        "x-ai": Provider("xAI", "xai"),
        "perplexity": Provider("Perplexity", "perplexity"),
        "z-ai": Provider("Z.AI", "z-ai"),
        "moonshotai": Provider("Moonshot AI", "moonshotai"),
        "sim": Provider("Simulator", "simulator"),
    }
)


def provider_for(author: str) -> Provider:
    """Return the provider that serves an author's models."""
    return _BY_AUTHOR.get(author) or Provider(author.title(), author)
