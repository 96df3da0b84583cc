"""Every Redis key the broker uses, built here: `broker:<entity>:<id>[:<facet>]`."""

PREFIX = "broker"


def worker_heartbeat(hostname: str) -> str:
    """A live worker's heartbeat (expires when the worker stops beating)."""
    return f"{PREFIX}:worker:{hostname}:heartbeat"


WORKER_HEARTBEAT_TTL_S = 30
