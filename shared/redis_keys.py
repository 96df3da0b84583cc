"""Every Redis key the broker uses, built here: `broker:<entity>:<id>[:<facet>]`."""

PREFIX = "broker"


def worker_heartbeat(hostname: str) -> str:
    """A live worker's heartbeat (expires when the worker stops beating)."""
    return f"{PREFIX}:worker:{hostname}:heartbeat"


WORKER_HEARTBEAT_TTL_S = 30

# The beats' shared schedule (each entry's last run) and their leader lock, kept by
# RedBeat under this prefix (workers.runtime.scheduler).
BEAT_KEY_PREFIX = f"{PREFIX}:beat:"

# Workers publish a job's id here once its final state is committed; API processes
# wake their long-poll and synchronous waiters with it.
JOBS_FINISHED_CHANNEL = f"{PREFIX}:jobs:finished"

# Published when a key is revoked or a tenant's settings change; API processes
# then forget the keys they had checked (broker_api.key_cache).
KEYS_CHANGED_CHANNEL = f"{PREFIX}:keys:changed"


def round_robin_state(scope: str, pool_signature: str) -> str:
    """Smooth weighted round-robin current weights of one tenant's pool (a hash)."""
    return f"{PREFIX}:rotation:{scope}:{pool_signature}"


# A pool nobody routes over for this long starts its rotation afresh.
ROUND_ROBIN_STATE_TTL_S = 7 * 24 * 3600


def model_performance(model_id: str) -> str:
    """One model's measured performance (a hash of EWMAs, see shared.routing)."""
    return f"{PREFIX}:model:{model_id}:performance"


def model_performance_index() -> str:
    """The set of model ids that have a performance hash."""
    return f"{PREFIX}:models:performance"


# Stats of a model unused this long are dropped (they would have decayed to nothing).
MODEL_PERFORMANCE_TTL_S = 7 * 24 * 3600


def auth_failures(source: str, window: int) -> str:
    """Failed authentications from one client address in one minute window."""
    return f"{PREFIX}:auth:{source}:failures:{window}"


def key_requests(prefix: str, window: int) -> str:
    """Requests one API key made in one minute window (its own rate limit)."""
    return f"{PREFIX}:key:{prefix}:requests:{window}"


def limit_bucket(scope: str) -> str:
    """A token bucket (a hash: tokens, ts); scope e.g. `openai:rpm`,
    `tenant:acme:openai/gpt-4o:tpm` (see shared.rate_limits)."""
    return f"{PREFIX}:limits:{scope}:bucket"


def limit_cool_down(scope: str) -> str:
    """Set while a provider or model cools down after an upstream 429 (PX = rest)."""
    return f"{PREFIX}:limits:{scope}:cooldown"


def limit_factor(provider: str) -> str:
    """A provider's adaptive rate factor (a hash: factor, ts, lowered, recover)."""
    return f"{PREFIX}:limits:{provider}:factor"


def tenant_submit_bucket(slug: str) -> str:
    """The token bucket of a tenant's submissions at the API."""
    return f"{PREFIX}:tenant:{slug}:submit:bucket"


def tenant_running(slug: str) -> str:
    """A tenant's running jobs: a sorted set of job ids scored by lease end (ms)."""
    return f"{PREFIX}:tenant:{slug}:running"


def tenant_budget(slug: str, month: str) -> str:
    """A tenant's spend in one UTC month `YYYY-MM` (a hash of micro-USD: spent,
    reserved)."""
    return f"{PREFIX}:tenant:{slug}:budget:{month}"


# Budget ledgers outlive their month by this long (for GET /v1/limits and audits).
TENANT_BUDGET_TTL_S = 40 * 24 * 3600


def worker_heartbeat_pattern() -> str:
    """A SCAN pattern matching every worker's heartbeat key."""
    return worker_heartbeat("*")


def monitoring_counters() -> str:
    """Counters every worker process adds to (a hash, see shared.metrics)."""
    return f"{PREFIX}:metrics:counters"


def catalog_synced() -> str:
    """Set for as long as the model catalog counts as fresh after a sync."""
    return f"{PREFIX}:catalog:synced"


def upstream_health_checks(label: str | None = None) -> str:
    """The latest upstream health checks, newest first (a list of JSON): of the
    global key, or of the tenant OpenRouter key with this label."""
    if label is None:
        return f"{PREFIX}:upstream:health"
    return f"{PREFIX}:upstream:key:{label}:health"


# An hour of checks at one a minute.
UPSTREAM_HEALTH_HISTORY = 60
# A key's checks outlive its last check by this long (a key no longer used goes).
UPSTREAM_HEALTH_TTL_S = 24 * 3600


def job_stream(job_id: str) -> str:
    """A streaming job's live events (a Redis Stream, see shared.job_streams):
    written by the worker that runs it, read by the API processes relaying it."""
    return f"{PREFIX}:job:{job_id}:stream"


def job_stream_cancel(job_id: str) -> str:
    """Set by the API when a streaming job's client went away; the worker running
    the job closes its upstream call when it sees it."""
    return f"{PREFIX}:job:{job_id}:cancel"


# A reader that keeps up never sees a trim: an answer is rarely past a few thousand
# chunks, and the bound keeps a runaway stream from growing Redis without limit.
JOB_STREAM_MAX_ENTRIES = 20_000
# Long enough to follow or replay a job that just ended; Postgres keeps the result.
JOB_STREAM_TTL_S = 3600
