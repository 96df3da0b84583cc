"""Two `helixq beat` processes on one Redis: each periodic task is published once
per period, and when the leader dies the standby takes over within the lease."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import pytest
import redis

from helixq.processes import Supervisor
from shared.queues import Queue, TaskName
from shared.task_messages import PRIORITY_STEPS, redis_list_key
from tests.polling import wait_until
from tests.services import Services
from workers.runtime.celery_app import (
    CATALOG_SYNC_INTERVAL_S,
    DUE_WEBHOOKS_INTERVAL_S,
    EXPIRED_FILES_INTERVAL_S,
    SENT_AT_LEADERSHIP,
    UPSTREAM_CHECK_INTERVAL_S,
)

pytestmark = pytest.mark.timeout(90)

HELIXQ = str(Path(sys.executable).parent / "helixq")
PERIOD_S = 1.0  # the sweeps' interval in this test
# Long enough that a beat starved of CPU on a busy machine keeps its lock; a beat
# tries for the lock (and the leader renews it) every LEASE_S / 6.
LEASE_S = 6.0
TAKEOVER_S = LEASE_S + LEASE_S / 6 + 1.5  # the lease, one try, some slack
# Every task's period here (the others are fixed in workers.runtime.celery_app).
PERIODS_S = {
    TaskName.REQUEUE_STALE_JOBS: PERIOD_S,
    TaskName.FINISH_BATCHES: PERIOD_S,
    TaskName.SUBMIT_DISCOUNT_LINES: PERIOD_S,
    TaskName.FOLLOW_UPSTREAM_BATCHES: PERIOD_S,
    TaskName.SYNC_PROVISIONED_KEYS: PERIOD_S,
    TaskName.DELIVER_DUE_WEBHOOKS: DUE_WEBHOOKS_INTERVAL_S,
    TaskName.CHECK_UPSTREAM: UPSTREAM_CHECK_INTERVAL_S,
    TaskName.SYNC_MODEL_CATALOG: CATALOG_SYNC_INTERVAL_S,
    TaskName.DELETE_EXPIRED_FILES: EXPIRED_FILES_INTERVAL_S,
}
STEADY_S = 6.0  # both beats running
AFTER_TAKEOVER_S = 4.0


@dataclass
class Published:
    """Each periodic task message as it lands on the maintenance lists."""

    at: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def times(self, task: TaskName, since: float = 0.0) -> list[float]:
        with self.lock:
            return [at for at in self.at[task.value] if at >= since]


@pytest.fixture
def published(
    services: Services, redis_client: "redis.Redis[bytes]"
) -> Iterator[Published]:
    lists = [redis_list_key(Queue.MAINTENANCE, step) for step in PRIORITY_STEPS]
    record, stop = Published(), threading.Event()
    client: redis.Redis[bytes] = redis.Redis.from_url(services.redis_url)

    def observe() -> None:
        while not stop.is_set():
            popped = client.brpop(lists, timeout=0.2)
            if popped is not None:
                task = json.loads(popped[1])["headers"]["task"]
                with record.lock:
                    record.at[task].append(time.monotonic())

    observer = threading.Thread(target=observe, daemon=True)
    observer.start()
    yield record
    stop.set()
    observer.join(timeout=5)
    client.close()


@pytest.fixture
def beats(services: Services, tmp_path: Path) -> Iterator[Supervisor]:
    supervisor = Supervisor(cwd=tmp_path)
    yield supervisor
    supervisor.stop_all(grace_s=5)


def _environment(services: Services, alive_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HELIXQ_ALIVE_DIR": str(alive_dir),
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "HELIXQ_SWEEP_INTERVAL_S": str(PERIOD_S),
        "HELIXQ_BATCH_SWEEP_INTERVAL_S": str(PERIOD_S),
        "HELIXQ_DISCOUNT_INTERVAL_S": str(PERIOD_S),
        "HELIXQ_KEY_SYNC_INTERVAL_S": str(PERIOD_S),
        "HELIXQ_BEAT_LEASE_S": str(LEASE_S),
    }


def _leadership(logs: Path) -> str:
    """Each beat's lock changes, for the message of a failed assertion."""
    lines = [
        f"{path.stem}: {line}"
        for path in sorted(logs.glob("beat-*.log"))
        for line in path.read_text().splitlines()
        if "the lock" in line or "beat: Starting" in line
    ]
    return "\n".join(lines)


def _start_beat(beats: Supervisor, name: str, env: dict[str, str], logs: Path) -> None:
    beats.start(name, [HELIXQ, "beat"], env, log=logs / f"{name}.log")
    wait_until(
        lambda: "beat: Starting" in (logs / f"{name}.log").read_text(),
        timeout_s=30,
        what=f"{name} to start",
    )


def _start_leader_and_standby(
    beats: Supervisor, published: Published, env: dict[str, str], logs: Path
) -> None:
    """beat-a, leading once its first sweep is out, then beat-b, waiting."""
    _start_beat(beats, "beat-a", env, logs)
    wait_until(
        lambda: bool(published.times(TaskName.REQUEUE_STALE_JOBS)),
        timeout_s=30,
        what="the first beat's first sweep",
    )
    _start_beat(beats, "beat-b", env, logs)


def _assert_once_per_period(published: Published, since: float) -> None:
    for task, period_s in PERIODS_S.items():
        if task in SENT_AT_LEADERSHIP:
            continue  # also sent when a beat takes the lead: checked on their own
        times = published.times(task, since)
        gaps = [later - earlier for earlier, later in pairwise(times)]
        # Two schedulers would each send on their own phase: some gap far below it.
        assert all(gap > 0.6 * period_s for gap in gaps), (task, gaps)


def test_two_beats_publish_each_task_once_per_period_and_one_takes_over(
    beats: Supervisor, published: Published, services: Services, tmp_path: Path
) -> None:
    env = _environment(services, tmp_path / "alive")
    _start_leader_and_standby(beats, published, env, tmp_path)
    steady_from = time.monotonic()
    time.sleep(STEADY_S)
    beats.raise_if_one_exited()

    # Both running: each sweep about once a second, not twice.
    for task in (TaskName.REQUEUE_STALE_JOBS, TaskName.FINISH_BATCHES):
        count = len(published.times(task, steady_from))
        assert STEADY_S / PERIOD_S - 2 <= count <= STEADY_S / PERIOD_S + 1, (
            count,
            _leadership(tmp_path),
        )
    # The leader ticking and the standby waiting both answer the liveness probe.
    probe = subprocess.run(
        [str(Path(HELIXQ).parent / "helixq-alive"), "beat"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert "2 beat process(es)" in probe.stdout
    # The first leader refreshed the upstream check and the catalog once at start.
    for task in SENT_AT_LEADERSHIP:
        assert len(published.times(task)) == 1, (task, _leadership(tmp_path))

    beats.kill("beat-a")  # SIGKILL: the lease is not handed back
    killed_at = time.monotonic()
    wait_until(
        lambda: bool(published.times(TaskName.REQUEUE_STALE_JOBS, killed_at)),
        timeout_s=LEASE_S + 5,
        what="the standby beat's first sweep",
    )
    took_over_s = published.times(TaskName.REQUEUE_STALE_JOBS, killed_at)[0] - killed_at
    assert took_over_s <= TAKEOVER_S, (took_over_s, _leadership(tmp_path))
    takeover_at = time.monotonic()
    time.sleep(AFTER_TAKEOVER_S)
    beats.raise_if_one_exited()

    count = len(published.times(TaskName.REQUEUE_STALE_JOBS, takeover_at))
    assert AFTER_TAKEOVER_S / PERIOD_S - 2 <= count <= AFTER_TAKEOVER_S / PERIOD_S + 1
    _assert_once_per_period(published, since=0.0)
    # The new leader refreshes them once more as it takes over, and only then.
    for task in SENT_AT_LEADERSHIP:
        times = published.times(task)
        assert len(times) == 2, (task, times, _leadership(tmp_path))
        assert killed_at <= times[1] <= killed_at + TAKEOVER_S


def test_a_stopping_leader_hands_over_at_once_and_a_waiting_beat_stops(
    beats: Supervisor, published: Published, services: Services, tmp_path: Path
) -> None:
    # A lease far longer than the handover may take: only a released lock fits.
    env = {**_environment(services, tmp_path / "alive"), "HELIXQ_BEAT_LEASE_S": "30"}
    _start_leader_and_standby(beats, published, env, tmp_path)

    beats.kill("beat-a", signal.SIGTERM)  # as a rolling update stops it
    stopped_at = time.monotonic()
    wait_until(
        lambda: bool(published.times(TaskName.REQUEUE_STALE_JOBS, stopped_at)),
        timeout_s=15,
        what="the standby beat's first sweep",
    )
    # It tries for the lock every 30 / 6 s: the lock was free well before the lease.
    handover_s = published.times(TaskName.REQUEUE_STALE_JOBS, stopped_at)[0]
    assert handover_s - stopped_at <= 30 / 6 + 2

    # A beat waiting for the lock stops when asked, as promptly as the leader.
    _start_beat(beats, "beat-c", env, tmp_path)
    os.killpg(beats.pid("beat-c"), signal.SIGTERM)
    beats.wait_for_exit("beat-c", timeout_s=5)


def test_a_leader_whose_lock_redis_lost_takes_it_again_and_goes_on(
    beats: Supervisor,
    published: Published,
    services: Services,
    redis_client: "redis.Redis[bytes]",
    tmp_path: Path,
) -> None:
    env = _environment(services, tmp_path / "alive")
    _start_beat(beats, "beat-a", env, tmp_path)
    wait_until(
        lambda: bool(published.times(TaskName.CHECK_UPSTREAM)),
        timeout_s=30,
        what="the beat's first upstream check",
    )

    redis_client.flushdb()  # the lock and the schedule with it, as a Redis restart
    flushed_at = time.monotonic()
    wait_until(
        lambda: bool(published.times(TaskName.CHECK_UPSTREAM, flushed_at)),
        timeout_s=LEASE_S + 5,
        what="the upstream check of the beat leading again",
    )
    time.sleep(3 * PERIOD_S)
    beats.raise_if_one_exited()
    assert len(published.times(TaskName.REQUEUE_STALE_JOBS, flushed_at)) >= 2
    assert "no longer this beat's" in (tmp_path / "beat-a.log").read_text()
