"""`helixq worker` and `helixq beat`: run a worker node or the scheduler here."""

import multiprocessing
import os
import signal
from collections.abc import Sequence
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from shared.configured_models import check_environment_models_at_start
from shared.errors import SettingsError
from shared.queues import Queue
from shared.settings import load_settings
from workers.runtime.celery_app import (
    BROKER_MAX_CONNECTIONS,
    VISIBILITY_TIMEOUT_S,
    app,
)
from workers.runtime.job_sender import CeleryJobSender
from workers.runtime.process import build_process
from workers.runtime.scheduler import configure_beat
from workers.runtime.settings import (
    WorkerSettings,
    check_worker_settings,
    longest_message_hold_s,
)
from workers.webhooks.sender import CeleryDeliverySender

# Redis connections beyond one per task thread: the consumer, timers, retries.
EXTRA_BROKER_CONNECTIONS = 32
STOP_TIMEOUT_S = 60.0


def run_worker(
    *,
    concurrency: int | None = None,
    processes: int | None = None,
    loglevel: str = "INFO",
) -> None:
    """Run a worker node: HELIXQ_WORKER_PROCESSES worker processes (threads pool,
    each with HELIXQ_WORKER_INFLIGHT jobs in flight) on the fixed queues and every
    tenant queue.

    Raises SettingsError (one line) before starting when the environment is unusable.
    """
    settings = load_worker_settings(concurrency=concurrency, processes=processes)
    check_environment_models_at_start(
        settings, default_model=settings.openrouter_default_model
    )
    count = settings.helixq_worker_processes
    if count == 1:
        _run_worker_process(concurrency, loglevel, None)
        return
    spawn = multiprocessing.get_context("spawn")
    children = [
        spawn.Process(
            target=_run_worker_process,
            args=(concurrency, loglevel, f"worker{index}@%h"),
            name=f"helixq-worker-{index}",
        )
        for index in range(1, count + 1)
    ]
    _supervise(children)


def _run_worker_process(
    concurrency: int | None, loglevel: str, hostname: str | None
) -> None:
    settings = load_worker_settings(concurrency=concurrency)
    threads = settings.helixq_worker_concurrency
    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "max_connections": max(
            BROKER_MAX_CONNECTIONS, threads + EXTRA_BROKER_CONNECTIONS
        ),
        "ack_emulation": settings.helixq_broker_ack_emulation,
    }
    sender, deliveries = CeleryJobSender(app), CeleryDeliverySender(app)
    app.worker_process.configure(
        lambda: build_process(settings, sender=sender, deliveries=deliveries)
    )
    fixed_queues = ",".join(queue.value for queue in Queue)  # tenants: TenantQueuesStep
    named = [] if hostname is None else [f"--hostname={hostname}"]
    app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={threads}",
            f"--loglevel={loglevel}",
            f"--queues={fixed_queues}",
            "--without-gossip",  # per-worker chatter we do not use, at every task count
            "--without-mingle",
            *named,
        ]
    )


def _supervise(children: Sequence[BaseProcess]) -> None:
    # One node, several processes: a signal to the parent reaches every child, and
    # when one child ends the node stops, so that whatever runs it restarts it whole.
    signalled: set[int] = set()

    def forward(_signum: int, _frame: FrameType | None) -> None:
        # Always SIGTERM, once each: a terminal's Ctrl-C has already sent every
        # child its SIGINT, and Celery takes a second SIGINT for a cold shutdown,
        # which skips handing back the jobs in flight (SIGTERM repeated is harmless).
        for child in children:
            if (
                child.pid is not None
                and child.is_alive()
                and child.pid not in signalled
            ):
                signalled.add(child.pid)
                os.kill(child.pid, signal.SIGTERM)

    for child in children:
        child.start()
    previous = {
        sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        wait([child.sentinel for child in children])
        forward(signal.SIGTERM, None)
        for child in children:
            child.join(STOP_TIMEOUT_S)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failed = [child.name for child in children if child.exitcode not in (0, None)]
    if failed:
        raise SystemExit(f"worker processes ended with an error: {', '.join(failed)}")


def run_beat(*, loglevel: str = "INFO") -> None:
    """Run the scheduler of periodic tasks (sweeps of stale jobs, batches and due
    webhooks, ...); any number may run, one sends (workers.runtime.scheduler)."""
    configure_beat(app, load_settings(WorkerSettings))
    app.start(["beat", f"--loglevel={loglevel}"])


def load_worker_settings(
    *, concurrency: int | None = None, processes: int | None = None
) -> WorkerSettings:
    """Settings a worker can run with, or SettingsError naming what is wrong."""
    overrides: dict[str, int] = {}
    if concurrency is not None:
        overrides["helixq_worker_concurrency"] = concurrency
    if processes is not None:
        overrides["helixq_worker_processes"] = processes
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
