"""Settings of the API process."""

from pydantic import Field, SecretStr

from shared.rate_limits import RateLimitSettings
from shared.settings import (
    DatabaseSettings,
    FileStorageSettings,
    RedisSettings,
    RoutingSettings,
    SealingSettings,
    WebhookSettings,
)


class ApiSettings(
    DatabaseSettings,
    RedisSettings,
    RoutingSettings,
    WebhookSettings,
    RateLimitSettings,
    SealingSettings,
    FileStorageSettings,
):
    helixq_api_host: str = "127.0.0.1"
    helixq_api_port: int = Field(default=8000, ge=1, le=65535)
    helixq_admin_token: SecretStr | None = None
    # GET /metrics asks for it as a bearer token; unset, /metrics is closed unless
    # helixq_metrics_open (tenant slugs are labels: keep them off untrusted networks).
    helixq_metrics_token: SecretStr | None = None
    helixq_metrics_open: bool = False
    # The signing secret of OpenRouter's Batch API webhooks (the workspace's): set,
    # a callback must carry a valid X-OpenRouter-Signature; unset, callbacks only
    # make helixq poll sooner, which OpenRouter's own answer then confirms.
    helixq_batch_callback_secret: SecretStr | None = None
    helixq_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    helixq_max_batch_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    # POST /v1/files: the largest file one upload takes, and how long an uploaded
    # file is served when the upload names no expires_after (30 days by default).
    helixq_max_file_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    helixq_file_retention_s: int = Field(default=30 * 86400, ge=3600)
    helixq_long_poll_max_s: float = Field(default=60.0, ge=0, le=600)
    helixq_sync_timeout_s: float = Field(default=300.0, gt=0, le=3600)
    # How often a stream whose job waits sends `: OPENROUTER PROCESSING`.
    helixq_stream_keepalive_s: float = Field(default=1.0, gt=0, le=60)
    # Redis connections of one API process. Each client of a stream holds one while
    # it waits for the job's next event (redis-py's default of 100 broke streams
    # past 100 at once).
    helixq_api_redis_connections: int = Field(default=2000, ge=16, le=100_000)
    helixq_seed_tenants: bool = True
    # Failed authentications one client address may make per minute before its
    # further failures answer 429 (a valid key always passes).
    helixq_auth_failures_per_minute: int = Field(default=30, ge=1)
    # How long an API process trusts a key it has checked: the longest a revoked
    # key or a changed tenant can still count (0: read Postgres every request).
    helixq_auth_cache_s: float = Field(default=5.0, ge=0, le=10)
    # API processes `helixq api` starts (uvicorn workers), one core each.
    helixq_api_workers: int = Field(default=1, ge=1, le=64)
    # A log line per request; off, requests are logged by the proxy in front and
    # jobs by their ids (a line costs a tenth of accepting a job).
    helixq_api_access_log: bool = False
