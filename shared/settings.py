"""Settings classes per concern; each process composes the ones it needs.

Nothing here reads the environment at import: callers build settings once at their
entry point (`load_settings(ApiSettings)`) and pass them down.
"""

import os
import re
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from shared.api_keys import MIN_KEY_CHARS
from shared.durations import DURATION_HELP, parse_duration_list, parse_duration_s
from shared.errors import SettingsError
from shared.redis_servers import is_sentinel, parse_sentinel_url
from shared.sealing import SecretBox, fernet_keys
from shared.strategies import FallbackStrategy, ModelSubstitution, RouteStrategy
from shared.upstream_keys import SHAPE_HELP, is_openrouter_key

DurationS = Annotated[float, BeforeValidator(parse_duration_s)]

# `.helixq/stack.env` is written by `helixq up` so that every command run beside a
# local stack finds its embedded servers; real environment variables win.
ENV_FILES = (".env", ".helixq/stack.env")

_CONFIG = SettingsConfigDict(env_file=ENV_FILES, extra="ignore")


class DatabaseSettings(BaseSettings):
    model_config = _CONFIG

    database_url: str = Field(pattern=r"^postgres(ql)?(\+\w+)?://")
    database_pool_size: int = Field(default=10, ge=1, le=500)
    database_max_overflow: int = Field(default=20, ge=0, le=1000)
    # Off behind a pooler that hands each transaction any server connection
    # (pgbouncer's transaction mode before 1.21): a statement prepared on one
    # server connection is unknown, or taken, on the next (shared.db.session).
    database_prepared_statements: bool = True


class RedisSettings(BaseSettings):
    model_config = _CONFIG

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        pattern=r"^(redis|rediss|unix|sentinel)://",
    )

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        return checked_redis_url(value)


def checked_redis_url(url: str) -> str:
    """`url` if helixq can open it; a sentinel:// URL is read whole at start, so
    that a missing master name fails there and not at the first command."""
    if is_sentinel(url):
        parse_sentinel_url(url)
    return url


class RoutingSettings(BaseSettings):
    """Routing defaults every tenant inherits unless it sets its own."""

    model_config = _CONFIG

    openrouter_default_model: str = "openai/gpt-4o-mini"
    openrouter_route_strategy: RouteStrategy = RouteStrategy.BASIC
    openrouter_fallback_strategy: FallbackStrategy = FallbackStrategy.BASIC
    openrouter_performance_cache: bool = True
    openrouter_cost_optimized: bool = False
    # Whether routing may call another model than the one a request names.
    helixq_model_substitution: ModelSubstitution = ModelSubstitution.NONE

    @property
    def default_strategy(self) -> RouteStrategy:
        """`OPENROUTER_COST_OPTIMIZED=true` means the cost_optimized strategy."""
        if self.openrouter_cost_optimized:
            return RouteStrategy.COST_OPTIMIZED
        return self.openrouter_route_strategy


class TenantSeed(BaseModel):
    """A tenant named in the environment as `OPENROUTER_TENANT_<N>_*` (and its
    helixq client key as `HELIXQ_TENANT_<N>_CLIENT_KEY`)."""

    number: int
    name: str
    # The OpenRouter key the tenant's calls use (None: OPENROUTER_API_KEY).
    api_key: SecretStr | None = None
    # The key the tenant's clients send to helixq.
    client_key: SecretStr | None = None
    default_model: str | None = None
    route_strategy: RouteStrategy | None = None
    fallback_strategy: FallbackStrategy | None = None
    model_substitution: ModelSubstitution | None = None
    # Comma-separated model ids: the only models the tenant may use.
    allowed_models: str | None = None

    @field_validator("api_key")
    @classmethod
    def _openrouter_shaped(cls, key: SecretStr | None) -> SecretStr | None:
        # A helixq key pasted here would go upstream as a bearer token: refused
        # at start, in one line naming the variable (never quoting the value).
        if key is not None and not is_openrouter_key(key.get_secret_value()):
            raise ValueError(
                f"not an OpenRouter key ({SHAPE_HELP}); the key the tenant's "
                "clients send to helixq goes in HELIXQ_TENANT_<N>_CLIENT_KEY"
            )
        return key

    @field_validator("client_key")
    @classmethod
    def _long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        # Checked here, not when the key is stored, so that start-up fails in one
        # line naming the variable instead of half-way through seeding.
        if key is not None and len(key.get_secret_value()) < MIN_KEY_CHARS:
            raise ValueError(f"an API key needs at least {MIN_KEY_CHARS} characters")
        return key

    def variable(self, field: str) -> str:
        """The environment variable that sets `field` of this tenant."""
        return tenant_variable(self.number, field)


CLIENT_KEY_FIELD = "client_key"


def tenant_variable(number: int | str, field: str) -> str:
    """`OPENROUTER_TENANT_<N>_<FIELD>` (`HELIXQ_TENANT_<N>_CLIENT_KEY` for the
    helixq client key), the name a person wrote."""
    if field == CLIENT_KEY_FIELD:
        return f"HELIXQ_TENANT_{number}_{field.upper()}"
    return f"OPENROUTER_TENANT_{number}_{field.upper()}"


_TENANT_VAR = re.compile(
    r"^(?:OPENROUTER_TENANT_(\d+)_([A-Z_]+)|HELIXQ_TENANT_(\d+)_(CLIENT_KEY))$"
)


class _TenantVariablesSource(PydanticBaseSettingsSource):
    """Collects `OPENROUTER_TENANT_<N>_<FIELD>` and `HELIXQ_TENANT_<N>_CLIENT_KEY`
    variables into a `tenants` list."""

    def get_field_value(
        self,
        field: Any,  # noqa: ARG002  (signature imposed by pydantic-settings)
        field_name: str,
    ) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[int, dict[str, str]] = {}
        for name, value in _environment().items():
            match = _TENANT_VAR.match(name)
            if match:
                number = int(match[1] or match[3])
                field = (match[2] or match[4]).lower()
                found.setdefault(number, {})[field] = value
        seeds = {
            n: {"number": n, "name": fields.pop("name", f"tenant-{n}"), **fields}
            for n, fields in sorted(found.items())
        }
        return {TENANTS_FIELD: seeds} if seeds else {}


def _environment() -> dict[str, str]:
    """The `.env` files overlaid by the real environment, which wins."""
    merged: dict[str, str] = {}
    for path in ENV_FILES:
        if Path(path).is_file():
            merged.update(
                {k: v for k, v in dotenv_values(path).items() if v is not None}
            )
    merged.update(os.environ)
    return merged


TENANTS_FIELD = "tenants_by_number"


class TenantSeedSettings(BaseSettings):
    model_config = _CONFIG

    # Keyed by <N>: a validation error's location then carries the number a person
    # wrote, so the message can name the variable (a list index would not).
    tenants_by_number: dict[int, TenantSeed] = Field(default_factory=dict)

    @property
    def tenants(self) -> list[TenantSeed]:
        """The tenants in the order of their numbers."""
        return [self.tenants_by_number[n] for n in sorted(self.tenants_by_number)]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the pattern-named variables matter here; the source reads env and .env.
        return (init_settings, _TenantVariablesSource(settings_cls))


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(settings_cls: type[SettingsT], **overrides: Any) -> SettingsT:
    """Build `settings_cls`; a bad value raises SettingsError naming the variable."""
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        lines = [_describe(error) for error in exc.errors()]
        raise SettingsError("; ".join(lines)) from None


def _describe(error: Any) -> str:
    variable = _variable_of(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if "duration" in message:
        message = f"expected {DURATION_HELP}"
    # Never echo the value of a secret back, nor a URL that may carry a password.
    secret = (
        "KEY" in variable or "TOKEN" in variable or "@" in str(error.get("input", ""))
    )
    shown = "" if secret else _value_of(error)
    return f"invalid {variable}{shown}: {message}"


def _variable_of(loc: tuple[Any, ...]) -> str:
    if len(loc) >= 3 and loc[0] == TENANTS_FIELD:
        return tenant_variable(loc[1], str(loc[2]))
    return "_".join(str(part) for part in loc).upper() or "settings"


def _value_of(error: Any) -> str:
    value = error.get("input")
    if isinstance(value, str | int | float) and len(str(value)) < 200:
        return f"={value!r}"
    return ""


class WebhookSettings(BaseSettings):
    """Webhook delivery: the address policy, the timeout and the retry schedule."""

    model_config = _CONFIG

    # Lets webhooks reach loopback and private networks (development and tests).
    helixq_webhook_allow_private: bool = False
    helixq_webhook_timeout_s: DurationS = Field(default=15.0, gt=0, le=300)
    # The delay before each retry; its length is the number of retries.
    helixq_webhook_retry_schedule: str = "5s,5m,30m,2h,5h,10h,10h"

    @field_validator("helixq_webhook_retry_schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        parse_duration_list(value)
        return value

    @property
    def webhook_retry_delays_s(self) -> tuple[float, ...]:
        """The retry schedule in seconds."""
        return parse_duration_list(self.helixq_webhook_retry_schedule)


def _default_alive_dir() -> Path:
    return Path(tempfile.gettempdir()) / "helixq-alive"


class LivenessSettings(BaseSettings):
    """Where worker and beat processes leave their liveness marks (shared.liveness),
    and how old a mark may be before `helixq-alive` calls its process stuck."""

    model_config = _CONFIG

    helixq_alive_dir: Path = Field(default_factory=_default_alive_dir)
    # Marks are rewritten every 10 s (a worker's may lag one more round): this
    # leaves two missed rounds before a probe fails.
    helixq_alive_max_age_s: DurationS = Field(default=60.0, ge=30)


class SealingSettings(BaseSettings):
    """The key that seals tenants' OpenRouter keys at rest (shared.sealing)."""

    model_config = _CONFIG

    helixq_secret_key: SecretStr | None = None

    @field_validator("helixq_secret_key")
    @classmethod
    def _check_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            fernet_keys(value.get_secret_value())
        return value

    def box(self) -> SecretBox | None:
        """The box of HELIXQ_SECRET_KEY; None when it is unset."""
        if self.helixq_secret_key is None:
            return None
        return SecretBox(self.helixq_secret_key.get_secret_value())


class FileStorage(StrEnum):
    """Where uploaded files' bytes are kept (shared.object_store says why)."""

    POSTGRES = "postgres"
    S3 = "s3"


class FileStorageSettings(BaseSettings):
    """Where uploaded files' bytes go. The credentials may be left unset to use
    boto3's own chain (environment, instance role)."""

    model_config = _CONFIG

    helixq_file_storage: FileStorage = FileStorage.POSTGRES
    helixq_s3_bucket: str | None = Field(default=None, min_length=3, max_length=63)
    helixq_s3_endpoint_url: str | None = None  # unset: AWS; set: MinIO, R2, ...
    helixq_s3_region: str = "us-east-1"
    helixq_s3_prefix: str = "helixq/files/"
    helixq_s3_access_key_id: SecretStr | None = None
    helixq_s3_secret_access_key: SecretStr | None = None

    @model_validator(mode="after")
    def _bucket_for_s3(self) -> "FileStorageSettings":
        if self.helixq_file_storage is FileStorage.S3 and not self.helixq_s3_bucket:
            raise ValueError("HELIXQ_FILE_STORAGE=s3 needs HELIXQ_S3_BUCKET")
        return self

    @property
    def s3_bucket(self) -> str:
        """The bucket; only for HELIXQ_FILE_STORAGE=s3, which requires it."""
        if self.helixq_s3_bucket is None:
            raise ValueError("HELIXQ_S3_BUCKET is not set")
        return self.helixq_s3_bucket
