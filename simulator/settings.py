"""SimulatorSettings: how the fake OpenRouter behaves, read from `HELIXQ_SIM_*`."""

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _items(raw: str) -> list[str]:
    """Split a comma-separated env value, dropping blanks."""
    return [item.strip() for item in raw.split(",") if item.strip()]


def _split_items(raw: object) -> object:
    """Turn "a,b" into ["a", "b"]; other values go to pydantic untouched."""
    return _items(raw) if isinstance(raw, str) else raw


def _split_mapping(raw: object) -> object:
    """Turn "model=value,model=value" into a dict; other values go untouched."""
    if not isinstance(raw, str):
        return raw
    mapping: dict[str, str] = {}
    for item in _items(raw):
        name, separator, value = item.rpartition("=")
        if not separator or not name.strip():
            raise ValueError(f"expected model=value, got {item!r}")
        mapping[name.strip()] = value.strip()
    return mapping


KeyList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split_items)]
LatencyMap = Annotated[dict[str, int], NoDecode, BeforeValidator(_split_mapping)]
RateMap = Annotated[dict[str, float], NoDecode, BeforeValidator(_split_mapping)]
Rate = Annotated[float, Field(ge=0, le=1)]


class BatchSettings(BaseSettings):
    """The Batch API: how long each status lasts, which variant of the API it is."""

    batch_validating_s: float = Field(default=1.0, ge=0)
    batch_in_progress_s: float = Field(default=5.0, ge=0)
    batch_cancel_s: float = Field(default=1.0, ge=0)  # until the provider confirms
    batch_window_s: float = Field(default=86_400.0, gt=0)  # sets `expires_at`
    # OpenRouter's documents disagree on cancel and on paged results: each is a knob.
    batch_cancel: Literal["enabled", "403", "404"] = "enabled"
    batch_results: Literal["both", "inline", "paged"] = "both"
    batch_line_cost: bool = True  # `usage.cost` in each result body
    batch_line_failure_rate: Rate = 0.0
    batch_callback_secret: SecretStr | None = None  # unset: callbacks go unsigned
    batch_callback_body: Literal["event", "object"] = "event"
    batch_callback_attempts: int = Field(default=3, ge=1)
    batch_callback_retry_s: float = Field(default=1.0, ge=0)
    batch_max_requests: int = Field(default=5_000, ge=1)
    batch_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1)


class SimulatorSettings(BatchSettings):
    """Latency, faults, credits and limits of the simulated OpenRouter."""

    model_config = SettingsConfigDict(
        env_prefix="HELIXQ_SIM_", env_file=".env", extra="ignore", frozen=True
    )

    latency_ms: int = Field(default=50, ge=0)
    latency_jitter_ms: int = Field(default=0, ge=0)
    model_latency_ms: LatencyMap = Field(default_factory=dict)
    failure_rate_429: Rate = 0.0
    failure_rate_500: Rate = 0.0
    model_failure_rate: RateMap = Field(default_factory=dict)
    seed: int | None = None
    credits_usd: Decimal = Decimal(1000)
    credit_limit_usd: Decimal | None = None
    completion_tokens: int = Field(default=32, ge=1)
    api_keys: KeyList = ()
    # OpenRouter's management keys: they may use the key provisioning API
    # (/api/v1/keys) and read `/credits` and `/activity`; none set: any accepted
    # key may (for provisioning, one that was not itself provisioned).
    management_keys: KeyList = ()
    free_requests_per_minute: int = Field(default=20, ge=0)
    free_requests_per_day: int = Field(default=1000, ge=0)
    default_model: str = "openai/gpt-4o-mini"
    auto_router_model: str = "openai/gpt-4o-mini"
    generation_delay_ms: int = Field(default=0, ge=0)
    # After the first token, one more every interval; 0 sends them all at once.
    token_interval_ms: int = Field(default=0, ge=0)
    # `: OPENROUTER PROCESSING` comments repeat this often until the first token.
    processing_interval_ms: int = Field(default=1000, ge=1)
