"""The periodic tasks' scheduler: any number of `helixq beat` processes, one sends.

RedBeat keeps the schedule (each entry's last run) in Redis and lets one beat hold
a lock there, renewed on every tick. The other beats wait for the lock; when its
holder stops it is released, when its holder dies it lapses after
HELIXQ_BEAT_LEASE_S, and the beat that takes it goes on from the schedule Redis
holds, so a period is neither run twice nor skipped. A holder that finds its lock
taken (it stalled past the lease, or Redis lost it) waits for it again before
sending anything more.

Each beat leaves a liveness mark (shared.liveness) for `helixq-alive beat`: the
leader on every tick, a waiting beat every MARK_INTERVAL_S while it waits.
"""

import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.exceptions
from celery import Celery
from celery.signals import beat_init
from redbeat import RedBeatScheduler
from redbeat.schedulers import (
    LUA_EXTEND_TO_SCRIPT,
    acquire_distributed_beat_lock,
    get_redis,
)

from shared import redis_keys
from shared.liveness import MARK_INTERVAL_S, write_mark
from shared.redis_servers import redbeat_settings
from workers.runtime.celery_app import (
    BATCH_SWEEP_SCHEDULE_NAME,
    DISCOUNT_SCHEDULE_NAME,
    FOLLOW_SCHEDULE_NAME,
    PROVISIONED_KEYS_SCHEDULE_NAME,
    RECONCILE_SCHEDULE_NAME,
    SENT_AT_LEADERSHIP,
    SWEEP_SCHEDULE_NAME,
)
from workers.runtime.settings import WorkerSettings

logger = logging.getLogger(__name__)

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
    schedule[PROVISIONED_KEYS_SCHEDULE_NAME]["schedule"] = (
        settings.helixq_key_sync_interval_s
    )
    schedule[RECONCILE_SCHEDULE_NAME]["schedule"] = (
        settings.helixq_cost_reconcile_interval_s
    )
    redbeat_url, redbeat_options = redbeat_settings(settings.redis_url)
    app.conf.update(
        beat_scheduler=SCHEDULER,
        beat_max_loop_interval=min(
            settings.helixq_beat_lease_s / TICKS_PER_LEASE, MARK_INTERVAL_S
        ),
        # Its own options (Sentinel's, or none), not the broker's transport options.
        redbeat_redis_url=redbeat_url,
        redbeat_redis_options=redbeat_options,
        redbeat_key_prefix=redis_keys.BEAT_KEY_PREFIX,
        redbeat_lock_timeout=int(settings.helixq_beat_lease_s),
    )
    app.conf[ALIVE_DIR_KEY] = str(settings.helixq_alive_dir)


# RedBeat ships no type hints.
class LeaderScheduler(RedBeatScheduler):  # type: ignore[misc]
    """RedBeat's scheduler, kept through Redis outages and lost locks.

    As it takes the lead it (re)installs the schedule and makes
    SENT_AT_LEADERSHIP due, so that prices and the upstream check are fresh from
    a new leader's first seconds rather than one interval (up to an hour) later.
    A lock that is no longer its own (it lapsed while Redis was away, or Redis
    lost it) sends it back to waiting, before anything more is sent; Redis away
    only makes it try again a tick later.
    """

    _leading = False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """One pass: send what is due; the seconds until the next one."""
        _mark_alive(self.app)
        try:
            if not self._leading:
                self._take_the_lead()
            interval: float = super().tick(*args, **kwargs)
        except redis.exceptions.LockError:
            logger.warning(
                "beat: the lock in Redis is no longer this beat's (it lapsed or "
                "Redis lost it): waiting for it again"
            )
            self._leading = False
            self.wait_for_lock()
            return 0.0
        except redis.exceptions.RedisError as error:
            logger.warning("beat: Redis unreachable (%r), trying again", error)
            return float(self.max_interval)
        return interval

    def wait_for_lock(self) -> None:
        """Block until this beat holds the lock, marking it alive meanwhile."""
        client = get_redis(self.app)
        lock = client.lock(
            self.lock_key, timeout=self.lock_timeout, sleep=self.max_interval
        )
        # RedBeat's renewal sets the lease anew instead of adding to what is left.
        lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)
        _mark_alive(self.app)
        while not self._try_lock(lock):
            _mark_alive(self.app)
        logger.info("beat: took the lock, sending the periodic tasks")
        self.lock = lock

    def close(self) -> None:
        """Release the lock if it is still ours, so another beat takes over now."""
        try:
            super().close()
        except redis.exceptions.RedisError as error:
            logger.warning("beat: lock not released (%r): it lapses on its own", error)

    def _try_lock(self, lock: Any) -> bool:
        try:
            return bool(lock.acquire(blocking_timeout=MARK_INTERVAL_S))
        except redis.exceptions.RedisError as error:
            logger.warning("beat: Redis unreachable (%r), trying again", error)
            time.sleep(self.max_interval)
            return False

    def _take_the_lead(self) -> None:
        self.setup_schedule()  # Redis may have lost it
        for name in _entries_sent_at_leadership(self.app):
            key = self.Entry.generate_key(self.app, name)
            self.Entry.from_key(key, app=self.app).reschedule(last_run_at=LONG_AGO)
        self._leading = True


def _entries_sent_at_leadership(app: Celery) -> list[str]:
    tasks = {task.value for task in SENT_AT_LEADERSHIP}
    return [
        name for name, entry in app.conf.beat_schedule.items() if entry["task"] in tasks
    ]


def _mark_alive(app: Celery) -> None:
    directory = app.conf.get(ALIVE_DIR_KEY)
    if directory is not None:
        write_mark(Path(directory), ROLE, str(os.getpid()))


def _wait_for_lock(sender: Any = None, **_: Any) -> None:
    sender.scheduler.wait_for_lock()


# Replaces RedBeat's own wait for the lock at start with the scheduler's.
beat_init.disconnect(acquire_distributed_beat_lock)
beat_init.connect(_wait_for_lock)
