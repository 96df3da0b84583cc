"""Every Redis key the broker uses, built here: `broker:<entity>:<id>[:<facet>]`."""

PREFIX = "broker"


def worker_heartbeat(hostname: str) -> str:
    """A live worker's heartbeat (expires when the worker stops beating)."""
    return f"{PREFIX}:worker:{hostname}:heartbeat"


WORKER_HEARTBEAT_TTL_S = 30

# Workers publish a job's id here once its final state is committed; API processes
# wake their long-poll and synchronous waiters with it.
JOBS_FINISHED_CHANNEL = f"{PREFIX}:jobs:finished"


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
