"""The periodic tasks' scheduler: any number of `helixq beat` processes, one sends.

RedBeat keeps the schedule (each entry's last run) in Redis and lets one beat hold
a lock there, renewed on every tick. The other beats wait for the lock; when its
holder stops it is released, when its holder dies it lapses after
HELIXQ_BEAT_LEASE_S, and the beat that takes it goes on from the schedule Redis
holds, so a period is neither run twice nor skipped. A holder that finds its lock
taken (it stalled past the lease) fails its tick before sending and exits.

Each beat leaves a liveness mark (shared.liveness) for `helixq-alive beat`: the
leader on every tick, a waiting beat every MARK_INTERVAL_S while it waits.
"""

import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import beat_init
from redbeat import RedBeatScheduler
from redbeat.schedulers import acquire_distributed_beat_lock

from shared import redis_keys
from shared.liveness import MARK_INTERVAL_S, write_mark
from workers.runtime.celery_app import (
    BATCH_SWEEP_SCHEDULE_NAME,
    DISCOUNT_SCHEDULE_NAME,
    FOLLOW_SCHEDULE_NAME,
    SENT_AT_LEADERSHIP,
    SWEEP_SCHEDULE_NAME,
)
from workers.runtime.settings import WorkerSettings

# The leader ticks at least this many times a lease, renewing it each time, and a
# waiting beat tries for the lock as often.
TICKS_PER_LEASE = 6
# A last run this old makes an entry due at once.
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
SCHEDULER = f"{__name__}:LeaderScheduler"
ROLE = "beat"
ALIVE_DIR_KEY = "helixq_alive_dir"  # in app.conf, for the scheduler and the wait


def configure_beat(app: Celery, settings: WorkerSettings) -> None:
    """Set the intervals the settings choose, and RedBeat's Redis, keys and lease."""
    schedule = app.conf.beat_schedule
    schedule[SWEEP_SCHEDULE_NAME]["schedule"] = settings.helixq_sweep_interval_s
    schedule[BATCH_SWEEP_SCHEDULE_NAME]["schedule"] = (
        settings.helixq_batch_sweep_interval_s
    )
    schedule[DISCOUNT_SCHEDULE_NAME]["schedule"] = settings.helixq_discount_interval_s
    schedule[FOLLOW_SCHEDULE_NAME]["schedule"] = settings.helixq_discount_interval_s
    app.conf.update(
        beat_scheduler=SCHEDULER,
        beat_max_loop_interval=min(
            settings.helixq_beat_lease_s / TICKS_PER_LEASE, MARK_INTERVAL_S
        ),
        redbeat_redis_url=settings.redis_url,
        # Its own (none), not the broker's transport options.
        redbeat_redis_options={},
        redbeat_key_prefix=redis_keys.BEAT_KEY_PREFIX,
        redbeat_lock_timeout=int(settings.helixq_beat_lease_s),
    )
    app.conf[ALIVE_DIR_KEY] = str(settings.helixq_alive_dir)


# RedBeat ships no type hints.
class LeaderScheduler(RedBeatScheduler):  # type: ignore[misc]
    """RedBeat's scheduler; as it takes the lead it makes SENT_AT_LEADERSHIP due,
    so that prices and the upstream check are fresh from a new leader's first
    seconds rather than one interval (up to an hour) later."""

    _leading = False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """One pass; the first one, right after the lock is taken, also makes the
        leadership's tasks due."""
        _mark_alive(self.app)
        if not self._leading:
            self._leading = True
            self._make_due(_entries_sent_at_leadership(self.app))
        interval: float = super().tick(*args, **kwargs)
        return interval

    def _make_due(self, names: list[str]) -> None:
        for name in names:
            key = self.Entry.generate_key(self.app, name)
            self.Entry.from_key(key, app=self.app).reschedule(last_run_at=LONG_AGO)


def _entries_sent_at_leadership(app: Celery) -> list[str]:
    tasks = {task.value for task in SENT_AT_LEADERSHIP}
    return [
        name for name, entry in app.conf.beat_schedule.items() if entry["task"] in tasks
    ]


def _mark_alive(app: Celery) -> None:
    directory = app.conf.get(ALIVE_DIR_KEY)
    if directory is not None:
        write_mark(Path(directory), ROLE, str(os.getpid()))


def _take_the_lead(sender: Any = None, **kwargs: Any) -> None:
    """RedBeat's wait for the lock, marking this beat alive while it waits."""
    app = sender.scheduler.app
    leading = threading.Event()

    def mark_while_waiting() -> None:
        _mark_alive(app)
        while not leading.wait(MARK_INTERVAL_S):
            _mark_alive(app)

    threading.Thread(target=mark_while_waiting, daemon=True).start()
    try:
        acquire_distributed_beat_lock(sender, **kwargs)
    finally:
        leading.set()


# Replaces RedBeat's own receiver, which it wraps.
beat_init.disconnect(acquire_distributed_beat_lock)
beat_init.connect(_take_the_lead)
