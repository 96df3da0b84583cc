"""In-flight slots: a task returns after the claim, a full set of slots blocks the
next task (which is what stops Celery from fetching more messages), and a group
takes a slot for each of its jobs."""

import asyncio
import threading

import pytest

from workers.inflight import InflightJobs

pytestmark = pytest.mark.timeout(10)


class Gate:
    """An asyncio event that the test thread opens."""

    def __init__(self, loop) -> None:
        self._loop = loop
        self._event = loop.run(self._make())

    @staticmethod
    async def _make() -> asyncio.Event:
        return asyncio.Event()

    async def wait(self) -> None:
        await self._event.wait()

    def open(self) -> None:
        self._loop.run(self._set())

    async def _set(self) -> None:
        self._event.set()


def _job(gate: Gate, log: list[str], *names: str):
    """A claim that takes the jobs `names` and starts each one's rest."""

    async def rest(name: str) -> None:
        await gate.wait()
        log.append(f"{name} done")

    async def claim(start) -> None:
        for name in names:
            log.append(f"{name} claimed")
            start(f"job {name}", rest(name))

    return claim


async def _nothing_to_do(start) -> None:
    return None


def test_start_returns_after_the_claim_while_the_rest_still_runs(event_loop_thread):
    jobs = InflightJobs(event_loop_thread, limit=2)
    gate, log = Gate(event_loop_thread), []

    assert jobs.start(_job(gate, log, "a"), slots=1) == 1

    assert log == ["a claimed"]
    assert jobs.wait_idle(0.05) == 1
    gate.open()
    assert jobs.wait_idle(5) == 0
    assert log == ["a claimed", "a done"]


def test_a_full_set_of_slots_blocks_the_next_start_until_a_job_ends(
    event_loop_thread,
):
    jobs = InflightJobs(event_loop_thread, limit=2)
    gate, log = Gate(event_loop_thread), []
    jobs.start(_job(gate, log, "a"), slots=1)
    jobs.start(_job(gate, log, "b"), slots=1)
    third = threading.Thread(
        target=jobs.start, args=(_job(gate, log, "c"),), kwargs={"slots": 1}
    )

    third.start()
    third.join(0.3)

    assert third.is_alive()  # waiting for a slot: its claim has not run
    assert "c claimed" not in log
    gate.open()
    third.join(5)
    assert not third.is_alive()
    assert jobs.wait_idle(5) == 0
    assert sorted(log) == sorted(
        ["a claimed", "b claimed", "c claimed", "a done", "b done", "c done"]
    )


def test_nothing_to_claim_frees_the_slot_at_once(event_loop_thread):
    jobs = InflightJobs(event_loop_thread, limit=1)

    assert jobs.start(_nothing_to_do, slots=1) == 0
    assert jobs.start(_nothing_to_do, slots=1) == 0  # would block if held


def test_a_failed_claim_raises_in_the_task_and_frees_the_slot(event_loop_thread):
    jobs = InflightJobs(event_loop_thread, limit=1)

    async def broken_claim(start):
        raise ConnectionError("database away")

    with pytest.raises(ConnectionError):
        jobs.start(broken_claim, slots=1)
    assert jobs.start(_nothing_to_do, slots=1) == 0


def test_a_crash_after_the_claim_frees_the_slot_and_is_logged(
    event_loop_thread, caplog
):
    jobs = InflightJobs(event_loop_thread, limit=1)

    async def crash() -> None:
        raise RuntimeError("boom")

    async def claim(start):
        start("job x", crash())

    jobs.start(claim, slots=1)
    assert jobs.wait_idle(5) == 0

    assert jobs.start(_nothing_to_do, slots=1) == 0
    assert "job x: crashed after its claim" in caplog.text


def test_a_group_holds_a_slot_for_each_job_it_started(event_loop_thread):
    jobs = InflightJobs(event_loop_thread, limit=3)
    gate, log = Gate(event_loop_thread), []

    assert jobs.start(_job(gate, log, "a", "b"), slots=3) == 2  # one not claimed

    assert jobs.wait_idle(0.05) == 2
    assert jobs.start(_nothing_to_do, slots=1) == 0  # the third slot was freed
    gate.open()
    assert jobs.wait_idle(5) == 0
    assert jobs.start(_nothing_to_do, slots=3) == 0


def test_a_claim_that_fails_midway_keeps_the_jobs_it_started(event_loop_thread):
    jobs = InflightJobs(event_loop_thread, limit=2)
    gate, log = Gate(event_loop_thread), []
    first = _job(gate, log, "a")

    async def then_fail(start) -> None:
        await first(start)
        raise ConnectionError("redis away")

    with pytest.raises(ConnectionError):
        jobs.start(then_fail, slots=2)

    assert jobs.wait_idle(0.05) == 1  # a runs; the other slot is free
    assert jobs.start(_nothing_to_do, slots=1) == 0
    gate.open()
    assert jobs.wait_idle(5) == 0
    assert log == ["a claimed", "a done"]


def test_a_group_larger_than_the_slots_is_refused(event_loop_thread):
    with pytest.raises(ValueError, match="3 slots"):
        InflightJobs(event_loop_thread, limit=2).start(_nothing_to_do, slots=3)
