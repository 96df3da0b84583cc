"""Rate limits and tenant quotas as configuration (pure): parsing, bucket specs.

Capacity is shared by every tenant (one OpenRouter key), so limits are token
buckets keyed by *scope*: a provider (the model id's prefix, `openai`), or one
model (`openai/gpt-4o`), each with requests per minute and tokens per minute and
a burst. Global limits come from HELIXQ_PROVIDER_LIMITS; a tenant may add its own
(`TenantLimits.providers`), which bind on top of the global ones. The buckets
themselves live in Redis (shared.token_bucket); this module only says which.

Text form, comma-separated: `openai=600rpm/2000000tpm/burst=50,openai/gpt-4o=60rpm`
(`rps`/`tps` accepted too; `burst=` is in requests, `tburst=` in tokens).
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.budget_periods import DEFAULT_ALERT_THRESHOLDS, BudgetPeriod
from shared.endpoints import is_embeddings
from shared.model_ids import upstream_model_id
from shared.routing.features import estimate_request_tokens
from shared.settings import ENV_FILES, DurationS

_UNITS_PER_S = {"rpm": 1 / 60, "rps": 1.0, "tpm": 1 / 60, "tps": 1.0}
# Default bursts: one second of requests, six seconds of tokens.
_REQUEST_BURST_S = 1.0
_TOKEN_BURST_S = 6.0
DEFAULT_COMPLETION_TOKENS = 256
# The slowest rate, one a day: a bucket's Redis expiry and a client's Retry-After
# are whole numbers of ms and s, which a rate near zero would push past any integer.
MIN_RATE_PER_S = 1 / 86_400
# The largest submit burst; it is counted as a float, which an int may overflow.
MAX_SUBMIT_BURST = 1_000_000
# The largest monthly budget: the ledger counts nano-USD in Redis's Lua numbers,
# exact up to 2^53 (shared.budget); far larger ones overflow the conversion.
MAX_MONTHLY_BUDGET_USD = Decimal(9_000_000)
MAX_BUDGET_ALERTS = 10
MAX_ALERT_PERCENT = 1000  # a tenant may want to hear of overruns past the budget


@dataclass(frozen=True, slots=True)
class Rate:
    """A refill rate and the most a bucket holds."""

    per_s: float
    burst: float


@dataclass(frozen=True, slots=True)
class ScopeLimit:
    """The request and token limits of one scope (provider or model)."""

    requests: Rate | None = None
    tokens: Rate | None = None


LimitTable = Mapping[str, ScopeLimit]


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """One bucket to take from: its Redis scope name, rate and the cost asked."""

    scope: str
    rate: Rate
    cost: float


def provider_of(model_id: str) -> str:
    """The provider a model id belongs to: `openai/gpt-4o` → `openai`."""
    upstream = upstream_model_id(model_id)
    return upstream.split("/", 1)[0] if "/" in upstream else upstream


def parse_limits(text: str) -> dict[str, ScopeLimit]:
    """The limit table of `text` (see the module docstring); ValueError when bad."""
    table: dict[str, ScopeLimit] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        scope, separator, spec = item.partition("=")
        if not separator or not scope.strip():
            raise ValueError(f"limit {item!r}: expected SCOPE=LIMITS")
        table[scope.strip()] = parse_scope_limit(spec)
    return table


def parse_scope_limit(spec: str) -> ScopeLimit:
    """`600rpm/2000000tpm/burst=50` as a ScopeLimit; ValueError when bad."""
    rates: dict[str, float] = {}
    bursts: dict[str, float] = {}
    for part in filter(None, (piece.strip() for piece in spec.split("/"))):
        name, separator, value = part.partition("=")
        if separator:
            if name not in {"burst", "tburst"}:
                raise ValueError(f"limit {spec!r}: unknown option {name!r}")
            bursts[name] = _positive(value, spec)
            continue
        unit = part.lstrip("0123456789.")
        if unit not in _UNITS_PER_S:
            raise ValueError(f"limit {spec!r}: unit of {part!r} not in rpm/rps/tpm/tps")
        kind = "requests" if unit[0] == "r" else "tokens"
        rates[kind] = _positive(part[: -len(unit)], spec) * _UNITS_PER_S[unit]
        if rates[kind] < MIN_RATE_PER_S:
            raise ValueError(f"limit {spec!r}: {part!r} is slower than one a day")
    if not rates:
        raise ValueError(f"limit {spec!r}: no rate given")
    return ScopeLimit(
        requests=_rate(rates.get("requests"), bursts.get("burst"), _REQUEST_BURST_S),
        tokens=_rate(rates.get("tokens"), bursts.get("tburst"), _TOKEN_BURST_S),
    )


def _rate(per_s: float | None, burst: float | None, default_s: float) -> Rate | None:
    if per_s is None:
        return None
    return Rate(per_s=per_s, burst=burst or max(1.0, per_s * default_s))


def _positive(raw: str, spec: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"limit {spec!r}: {raw!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"limit {spec!r}: {raw!r} must be positive")
    return value


REQUESTS_SUFFIX = ":rpm"
TOKENS_SUFFIX = ":tpm"


def bucket_specs(
    model_id: str, *, tokens: int, table: LimitTable, prefix: str = ""
) -> list[BucketSpec]:
    """The buckets one call to `model_id` takes from under `table`: provider and
    model, requests (cost 1) and tokens (cost `tokens`); `prefix` scopes them
    (a tenant's own buckets)."""
    model = upstream_model_id(model_id)
    specs: list[BucketSpec] = []
    for scope in (provider_of(model), model):
        limit = table.get(scope)
        if limit is None:
            continue
        if limit.requests is not None:
            specs.append(
                BucketSpec(f"{prefix}{scope}{REQUESTS_SUFFIX}", limit.requests, 1.0)
            )
        if limit.tokens is not None:
            specs.append(
                BucketSpec(f"{prefix}{scope}{TOKENS_SUFFIX}", limit.tokens, tokens)
            )
    return specs


def estimated_tokens(request: Mapping[str, object]) -> tuple[int, int]:
    """Prompt and completion tokens a request may use, before any call tells the
    truth: routing's prompt estimate, and its `max_tokens` (or a default)."""
    prompt = estimate_request_tokens(request)
    if is_embeddings(request):
        return prompt, 0  # an embedding produces no tokens
    limit = request.get("max_tokens") or request.get("max_completion_tokens")
    completion = limit if isinstance(limit, int) else DEFAULT_COMPLETION_TOKENS
    return prompt, completion


class TenantLimits(BaseModel):
    """A tenant's own limits and quotas (tenants.limits); None means unlimited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    submit_per_s: float | None = Field(default=None, ge=MIN_RATE_PER_S)
    submit_burst: int | None = Field(default=None, ge=1, le=MAX_SUBMIT_BURST)
    max_queued: int | None = Field(default=None, ge=0)
    max_running: int | None = Field(default=None, ge=1)
    # The tenant's share when tenants with work compete for the workers: messages
    # in a row it takes in the round robin between tenant queues (None: 1).
    weight: int | None = Field(default=None, ge=1, le=100)
    # The budget of one budget_period (the name predates daily and weekly budgets).
    monthly_budget_usd: Decimal | None = Field(
        default=None, ge=0, le=MAX_MONTHLY_BUDGET_USD
    )
    budget_period: BudgetPeriod | None = None  # None: month
    # Percentages of the budget whose crossing fires `budget.threshold_reached`
    # once per period; None: 50, 80, 100.
    budget_alerts: list[int] | None = Field(default=None, max_length=MAX_BUDGET_ALERTS)
    # Extra buckets for this tenant only, in the HELIXQ_PROVIDER_LIMITS text form.
    providers: str | None = Field(default=None, max_length=2000)

    @field_validator("budget_alerts")
    @classmethod
    def _check_alerts(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if any(not 1 <= pct <= MAX_ALERT_PERCENT for pct in value):
            raise ValueError(
                f"each threshold is a percentage from 1 to {MAX_ALERT_PERCENT}"
            )
        return sorted(set(value))

    @property
    def period(self) -> BudgetPeriod:
        """The period the budget covers."""
        return self.budget_period or BudgetPeriod.MONTH

    @property
    def alert_thresholds(self) -> tuple[int, ...]:
        """The budget alert thresholds, in percent, ascending."""
        if self.budget_alerts is None:
            return DEFAULT_ALERT_THRESHOLDS
        return tuple(self.budget_alerts)

    @field_validator("providers")
    @classmethod
    def _check_providers(cls, value: str | None) -> str | None:
        if value is not None:
            parse_limits(value)
        return value

    @property
    def provider_table(self) -> dict[str, ScopeLimit]:
        """The tenant's own limit table (empty when none)."""
        return parse_limits(self.providers or "")

    @property
    def submit_rate(self) -> Rate | None:
        """The submit bucket: `submit_per_s`, burst one second of it unless set."""
        if self.submit_per_s is None:
            return None
        burst = self.submit_burst or max(1.0, self.submit_per_s)
        return Rate(per_s=self.submit_per_s, burst=float(burst))


def tenant_limits(raw: object) -> TenantLimits:
    """The stored JSON of tenants.limits as TenantLimits (NULL: no limits)."""
    return TenantLimits.model_validate(raw or {})


class RateLimitSettings(BaseSettings):
    """Global limits and the limiter's behaviour (workers and the API)."""

    model_config = SettingsConfigDict(env_file=ENV_FILES, extra="ignore")

    # `openai=600rpm/2000000tpm/burst=50,...`: every tenant together.
    helixq_provider_limits: str = ""
    # A job may reserve tokens this far ahead and wait for them holding its task
    # thread, so the rest stay in the queue, in order; longer waits are deferred.
    helixq_limit_horizon_s: DurationS = Field(default=1.0, gt=0, le=30)
    # Cool-down after an upstream 429 that says nothing of when to come back.
    helixq_limit_cool_down_s: DurationS = Field(default=1.0, ge=0)
    # Each 429 (at most one a second) multiplies a provider's rate by this ...
    helixq_limit_backoff: float = Field(default=0.5, gt=0, lt=1)
    helixq_limit_min_factor: float = Field(default=0.1, gt=0, le=1)
    # ... and it regains this much of the full rate every second after.
    helixq_limit_recovery_per_s: float = Field(default=0.02, gt=0, le=1)
    # Held back from every burst: a slot is reserved on Redis's clock but the call
    # leaves on a worker's a few ms late, so calls can bunch by that much.
    helixq_limit_burst_margin: float = Field(default=1.0, ge=0)
    # A job waiting for its slot wakes this long before it to write its attempt
    # row, then waits the rest right before the call: calls leave at their slots.
    helixq_limit_send_lead_s: DurationS = Field(default=0.25, ge=0, le=5)
    # A job refused a running slot or tokens for longer is re-queued after it.
    helixq_limit_retry_s: DurationS = Field(default=1.0, gt=0)

    @field_validator("helixq_provider_limits")
    @classmethod
    def _check_limits(cls, value: str) -> str:
        parse_limits(value)
        return value

    @property
    def provider_table(self) -> dict[str, ScopeLimit]:
        """The global limit table."""
        return parse_limits(self.helixq_provider_limits)
