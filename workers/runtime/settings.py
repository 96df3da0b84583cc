"""WorkerSettings: everything a worker process reads from its environment.

The OpenRouter key lives only here. Built at the worker's entry point (or lazily in
WorkerProcess), never at import.
"""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from shared.errors import SettingsError
from shared.rate_limits import RateLimitSettings
from shared.settings import (
    DatabaseSettings,
    DurationS,
    FileStorageSettings,
    LivenessSettings,
    RedisSettings,
    RoutingSettings,
    SealingSettings,
    WebhookSettings,
)

# Messages a process holds while their jobs wait for rate-limit tokens (the
# consumer's prefetch count: what holds a flooding tenant's messages back; four
# times as many while none waits, workers.runtime.intake), and threads for other tasks.
DEFAULT_CONCURRENCY = 4
# Jobs in flight per process, multiplexed on its event loop.
DEFAULT_INFLIGHT = 400


class DiscountLaneSettings(BaseSettings):
    """The discount lane: OpenRouter's Batch API (docs/batches.md)."""

    # OpenRouter has published /api/v1/batches and /api/beta/batches; None: the
    # batches route under OPENROUTER_BASE_URL.
    helixq_batch_api_url: str | None = Field(default=None, pattern=r"^https?://")
    # OpenRouter's limits per upstream batch.
    helixq_discount_max_requests: int = Field(default=5000, ge=1, le=50_000)
    helixq_discount_max_bytes: int = Field(default=200_000_000, ge=10_000)
    # Some of OpenRouter's documents want the `:batch` slug, others the base one.
    helixq_discount_batch_slug: bool = False
    # A POST whose answer was lost is looked for upstream after this long.
    helixq_discount_reconcile_after_s: DurationS = Field(default=30.0, gt=0)
    helixq_discount_interval_s: DurationS = Field(default=5.0, gt=0)
    # Polling an upstream batch: first after this long, doubling up to the max.
    helixq_discount_poll_first_s: DurationS = Field(default=5.0, gt=0)
    helixq_discount_poll_max_s: DurationS = Field(default=300.0, gt=0)
    # Upstream batches (and their lines) in flight at once, overall and per tenant:
    # past a cap, new upstream batches wait (docs/limits.md).
    helixq_discount_max_batches_in_flight: int = Field(default=1000, ge=1)
    helixq_discount_max_lines_in_flight: int = Field(default=2_000_000, ge=1)
    helixq_discount_tenant_max_batches_in_flight: int = Field(default=200, ge=1)
    helixq_discount_tenant_max_lines_in_flight: int = Field(default=500_000, ge=1)
    # Delete an upstream batch at OpenRouter once its results are stored here.
    helixq_discount_delete_stored: bool = True
    # helixq's public base URL: upstream batches are sent with a callback_url under
    # it, and a callback triggers an immediate poll (None: polling only).
    helixq_public_url: str | None = Field(default=None, pattern=r"^https?://")


class LedgerSettings(BaseSettings):
    """The cost reconciler (docs/ledger.md)."""

    # OpenRouter's `/activity` answers only a management key; without one the
    # per-model, per-day check against the account is skipped.
    openrouter_management_key: SecretStr | None = None
    helixq_cost_reconcile_interval_s: DurationS = Field(default=30.0, gt=0)
    # `/generation` answers 404 for a while after a call: first look after this
    # long, doubling up to the max, at most this many times.
    helixq_cost_check_first_s: DurationS = Field(default=2.0, gt=0)
    helixq_cost_check_max_s: DurationS = Field(default=600.0, gt=0)
    helixq_cost_check_tries: int = Field(default=12, ge=1, le=100)
    helixq_cost_reconcile_batch: int = Field(default=200, ge=1, le=10_000)
    # Completed UTC days checked against `/activity` (OpenRouter keeps 30).
    helixq_cost_activity_days: int = Field(default=2, ge=0, le=30)
    # Also compare today's figures so far (OpenRouter documents completed days).
    helixq_cost_activity_today: bool = False


class WorkerSettings(
    DatabaseSettings,
    RedisSettings,
    RoutingSettings,
    WebhookSettings,
    RateLimitSettings,
    DiscountLaneSettings,
    LivenessSettings,
    SealingSettings,
    FileStorageSettings,
    LedgerSettings,
):
    openrouter_api_key: SecretStr | None = None
    openrouter_base_url: str = Field(
        default="https://openrouter.ai/api/v1", pattern=r"^https?://"
    )
    openrouter_enabled: bool = True
    openrouter_max_retries: int = Field(default=3, ge=0, le=50)  # after the first try
    openrouter_timeout: DurationS = Field(default=60.0, gt=0)
    # A streamed call that sends no chunk within this long gives way to the next
    # candidate (a request may set its own: `route.first_token_timeout_s`).
    helixq_first_token_timeout_s: DurationS = Field(default=30.0, gt=0)
    openrouter_app_title: str = "helixq"
    # With it, tenants with a budget get an OpenRouter key limited to it
    # (workers.maintenance.provisioned_keys), checked this often.
    openrouter_management_key: SecretStr | None = None
    helixq_key_sync_interval_s: DurationS = Field(default=30.0, gt=0)
    openrouter_http_referer: str | None = None

    helixq_worker_concurrency: int = Field(default=DEFAULT_CONCURRENCY, ge=1, le=256)
    helixq_worker_inflight: int = Field(default=DEFAULT_INFLIGHT, ge=1, le=10_000)
    helixq_worker_processes: int = Field(default=1, ge=1, le=64)
    # Redis's emulated acks write an unacked hash on every delivery and ack (two
    # Redis transactions a message); Postgres and the sweepers already re-send
    # whatever a dead worker held, so they are off unless asked for.
    helixq_broker_ack_emulation: bool = False
    # A claimed job whose worker vanished is picked up again after this long.
    helixq_job_lease_s: DurationS = Field(default=180.0, gt=0)
    helixq_queued_stale_s: DurationS = Field(default=60.0, gt=0)
    helixq_sweep_interval_s: DurationS = Field(default=30.0, gt=0)
    helixq_sweep_batch: int = Field(default=1000, ge=1)
    # How often batches that can end are ended, and overdue jobs expired.
    helixq_batch_sweep_interval_s: DurationS = Field(default=5.0, gt=0)
    helixq_tenant_refresh_s: DurationS = Field(default=2.0, gt=0)
    helixq_retry_base_delay_s: DurationS = Field(default=1.0, gt=0)
    helixq_retry_max_delay_s: DurationS = Field(default=300.0, gt=0)
    # How long a stopping worker lets its calls in flight run on; None: up to
    # OPENROUTER_TIMEOUT, so that every call can end.
    helixq_worker_stop_grace_s: DurationS | None = Field(default=None, ge=0)
    # One beat of any number sends the periodic tasks, holding a lock in Redis that
    # it renews as it ticks; when its holder dies, another beat takes over after
    # this long (whole seconds: the lock is renewed by the second).
    helixq_beat_lease_s: DurationS = Field(default=30.0, ge=2, le=600)


class BrokerSettings(RedisSettings):
    """What the Celery app module may read at import: the broker URL only."""


def check_worker_settings(settings: WorkerSettings) -> None:
    """Refuse settings a worker cannot run with; raises SettingsError (one line)."""
    if settings.openrouter_enabled and settings.openrouter_api_key is None:
        raise SettingsError(
            "OPENROUTER_API_KEY is not set: a worker needs it to call OpenRouter "
            "(point OPENROUTER_BASE_URL at the simulator for local runs)"
        )
    if settings.helixq_job_lease_s <= settings.openrouter_timeout:
        raise SettingsError(
            f"HELIXQ_JOB_LEASE_S ({settings.helixq_job_lease_s:g}s) must exceed "
            f"OPENROUTER_TIMEOUT ({settings.openrouter_timeout:g}s), or a slow call "
            "would be handed to a second worker"
        )


def stop_grace_s(settings: WorkerSettings) -> float:
    """Seconds a stopping worker waits for its calls in flight before it cuts
    them off and hands their jobs back."""
    grace_s = settings.helixq_worker_stop_grace_s
    return settings.openrouter_timeout if grace_s is None else grace_s


def longest_message_hold_s(settings: WorkerSettings) -> float:
    """How long a worker may hold one broker message unacknowledged: a retry
    waits out its countdown on the worker, then its claim (acked right after)
    may wait for an in-flight slot, which frees within one lease."""
    return settings.helixq_retry_max_delay_s + settings.helixq_job_lease_s
