"""Settings of the `helixq` console script itself (the local stack and Flower)."""

import os
from collections.abc import Mapping

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import DatabaseSettings, DurationS, checked_redis_url


class StackSettings(BaseSettings):
    """What `helixq up` reads. Every server URL is optional: unset means embedded."""

    # Not `.helixq/stack.env`: a file left by a crashed run must not look like a
    # server the operator chose.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(default=None, pattern=r"^postgres(ql)?(\+\w+)?://")
    redis_url: str | None = Field(
        default=None, pattern=r"^(redis|rediss|unix|sentinel)://"
    )
    openrouter_api_key: SecretStr | None = None
    helixq_admin_token: SecretStr | None = None

    helixq_api_host: str = "127.0.0.1"
    helixq_api_port: int = Field(default=8000, ge=1, le=65535)
    helixq_flower_port: int = Field(default=5555, ge=1, le=65535)
    helixq_sim_host: str = "127.0.0.1"
    helixq_sim_port: int = Field(default=8090, ge=1, le=65535)
    # Slow enough that queues, polling and Flower show something happening.
    helixq_sim_latency_ms: int = Field(default=300, ge=0)
    helixq_stack_redis_port: int = Field(default=6390, ge=0, le=65535)  # 0: any free
    helixq_stack_worker_concurrency: int | None = Field(default=None, ge=1)
    # Per child, in reverse start order: SIGTERM, then SIGKILL after this long.
    helixq_stack_grace_s: DurationS = 10.0
    # The stack's worker lets its calls run on for at most this long when stopped
    # (and never past the stack's grace less the time to hand back the rest).
    helixq_worker_stop_grace_s: DurationS | None = None
    helixq_stack_ready_timeout_s: DurationS = 90.0

    @property
    def is_simulated(self) -> bool:
        """No OpenRouter key given: the local simulator stands in for OpenRouter."""
        return self.openrouter_api_key is None

    @field_validator(
        "database_url",
        "redis_url",
        "openrouter_api_key",
        "helixq_admin_token",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `.env` files copied from env.example carry `NAME=` lines.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        return None if value is None else checked_redis_url(value)


class FlowerSettings(DatabaseSettings):
    """What `helixq flower` reads besides REDIS_URL and Flower's FLOWER_* options."""

    # How soon a new tenant's queue appears on the Broker page (the workers' knob).
    helixq_tenant_refresh_s: DurationS = Field(default=2.0, gt=0)


class ClientSettings(BaseSettings):
    """What the API commands (`submit`, `jobs`, `batches`, `usage`) read."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    helixq_api_url: str = Field(
        default="http://127.0.0.1:8000", pattern=r"^https?://[^/\s]"
    )
    helixq_api_key: SecretStr | None = None


def inherited_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment plus `overrides`, for a child process.

    Passes the environment on unread; settings classes still do all the reading.
    """
    return {**os.environ, **overrides}
