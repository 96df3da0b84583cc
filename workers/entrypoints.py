"""`helixq worker` and `helixq beat`: run a worker or the scheduler here."""

from shared.errors import SettingsError
from shared.queues import Queue
from shared.settings import load_settings
from workers.celery_app import (
    BROKER_MAX_CONNECTIONS,
    SWEEP_SCHEDULE_NAME,
    VISIBILITY_TIMEOUT_S,
    app,
)
from workers.context import build_context
from workers.settings import (
    WorkerSettings,
    check_worker_settings,
    longest_message_hold_s,
)

# Redis connections beyond one per task thread: the consumer, beat-like timers, retries.
EXTRA_BROKER_CONNECTIONS = 32


def run_worker(*, concurrency: int | None = None, loglevel: str = "INFO") -> None:
    """Run a worker (threads pool) on the fixed queues and every tenant queue.

    Raises SettingsError (one line) before starting when the environment is unusable.
    """
    settings = load_worker_settings(concurrency=concurrency)
    threads = settings.helixq_worker_concurrency
    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "max_connections": max(
            BROKER_MAX_CONNECTIONS, threads + EXTRA_BROKER_CONNECTIONS
        ),
    }
    app.worker_contexts.configure(lambda: build_context(settings))
    fixed_queues = ",".join(queue.value for queue in Queue)  # tenants: TenantQueuesStep
    app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={threads}",
            f"--loglevel={loglevel}",
            f"--queues={fixed_queues}",
            "--without-gossip",  # per-worker chatter we do not use, at every task count
            "--without-mingle",
        ]
    )


def run_beat(*, loglevel: str = "INFO") -> None:
    """Run the scheduler of periodic tasks (the stale-job sweeper)."""
    settings = load_settings(WorkerSettings)
    app.conf.beat_schedule[SWEEP_SCHEDULE_NAME]["schedule"] = (
        settings.helixq_sweep_interval_s
    )
    app.start(["beat", f"--loglevel={loglevel}"])


def load_worker_settings(*, concurrency: int | None = None) -> WorkerSettings:
    """Settings a worker can run with, or SettingsError naming what is wrong."""
    overrides = (
        {} if concurrency is None else {"helixq_worker_concurrency": concurrency}
    )
    settings = load_settings(WorkerSettings, **overrides)
    check_worker_settings(settings)
    hold_s = longest_message_hold_s(settings)
    if hold_s >= VISIBILITY_TIMEOUT_S:
        raise SettingsError(
            f"HELIXQ_RETRY_MAX_DELAY_S + HELIXQ_JOB_LEASE_S ({hold_s:g}s) must stay "
            f"below the broker visibility timeout ({VISIBILITY_TIMEOUT_S}s), or Redis "
            "would hand a message still held by a worker to another one"
        )
    return settings
