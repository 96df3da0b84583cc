"""In-flight slots: `begin` returns after the claim while the jobs run on, a full
set of slots holds the next message back (which is what keeps its message unacked,
and Celery from fetching more), and a group takes a slot for each of its jobs."""

import asyncio

import pytest

from workers.runtime.inflight import InflightJobs

pytestmark = pytest.mark.timeout(10)


def _job(gate: asyncio.Event, log: list[str], *names: str):
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


def test_begin_returns_after_the_claim_while_the_rest_still_runs():
    async def scenario():
        jobs, gate, log = InflightJobs(limit=2), asyncio.Event(), []
        started = await jobs.begin(_job(gate, log, "a"), slots=1)
        after_claim = list(log)
        running = await jobs.wait_idle(0.05)
        gate.set()
        return started, after_claim, running, await jobs.wait_idle(5), log

    started, after_claim, running, idle, log = asyncio.run(scenario())

    assert (started, after_claim, running, idle) == (1, ["a claimed"], 1, 0)
    assert log == ["a claimed", "a done"]


def test_a_full_set_of_slots_holds_the_next_message_until_a_job_ends():
    async def scenario():
        jobs, gate, log = InflightJobs(limit=2), asyncio.Event(), []
        await jobs.begin(_job(gate, log, "a"), slots=1)
        await jobs.begin(_job(gate, log, "b"), slots=1)
        third = asyncio.create_task(jobs.begin(_job(gate, log, "c"), slots=1))
        await asyncio.sleep(0.2)
        waiting = (not third.done(), "c claimed" not in log)
        gate.set()
        await asyncio.wait_for(third, 5)
        return waiting, await jobs.wait_idle(5), log

    waiting, idle, log = asyncio.run(scenario())

    assert waiting == (True, True)  # its claim had not run
    assert idle == 0
    assert sorted(log) == sorted(
        ["a claimed", "b claimed", "c claimed", "a done", "b done", "c done"]
    )


def test_nothing_to_claim_frees_the_slot_at_once():
    async def scenario():
        jobs = InflightJobs(limit=1)
        first = await jobs.begin(_nothing_to_do, slots=1)
        second = await asyncio.wait_for(jobs.begin(_nothing_to_do, slots=1), 1)
        return first, second

    assert asyncio.run(scenario()) == (0, 0)


def test_a_failed_claim_raises_and_frees_the_slot():
    async def broken_claim(start):
        raise ConnectionError("database away")

    async def scenario():
        jobs = InflightJobs(limit=1)
        with pytest.raises(ConnectionError):
            await jobs.begin(broken_claim, slots=1)
        return await asyncio.wait_for(jobs.begin(_nothing_to_do, slots=1), 1)

    assert asyncio.run(scenario()) == 0


def test_a_message_cancelled_while_waiting_for_slots_gives_back_those_it_took():
    async def scenario():
        jobs, gate, log = InflightJobs(limit=3), asyncio.Event(), []
        await jobs.begin(_job(gate, log, "a"), slots=1)
        waiting = asyncio.create_task(jobs.begin(_nothing_to_do, slots=3))
        await asyncio.sleep(0.05)  # it holds the two free slots, wants a third
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return await asyncio.wait_for(jobs.begin(_nothing_to_do, slots=2), 1)

    assert asyncio.run(scenario()) == 0


def test_a_crash_after_the_claim_frees_the_slot_and_is_logged(caplog):
    async def crash() -> None:
        raise RuntimeError("boom")

    async def claim(start):
        start("job x", crash())

    async def scenario():
        jobs = InflightJobs(limit=1)
        await jobs.begin(claim, slots=1)
        idle = await jobs.wait_idle(5)
        return idle, await asyncio.wait_for(jobs.begin(_nothing_to_do, slots=1), 1)

    assert asyncio.run(scenario()) == (0, 0)
    assert "job x: crashed after its claim" in caplog.text


def test_a_group_holds_a_slot_for_each_job_it_started():
    async def scenario():
        jobs, gate, log = InflightJobs(limit=3), asyncio.Event(), []
        started = await jobs.begin(_job(gate, log, "a", "b"), slots=3)
        running = await jobs.wait_idle(0.05)
        # the third slot was freed: this would wait otherwise
        third = await asyncio.wait_for(jobs.begin(_nothing_to_do, slots=1), 1)
        gate.set()
        idle = await jobs.wait_idle(5)
        return started, running, third, idle, await jobs.begin(_nothing_to_do, slots=3)

    assert asyncio.run(scenario()) == (2, 2, 0, 0, 0)  # one job was not claimed


def test_a_claim_that_fails_midway_keeps_the_jobs_it_started():
    async def scenario():
        jobs, gate, log = InflightJobs(limit=2), asyncio.Event(), []
        first = _job(gate, log, "a")

        async def then_fail(start) -> None:
            await first(start)
            raise ConnectionError("redis away")

        with pytest.raises(ConnectionError):
            await jobs.begin(then_fail, slots=2)
        running = await jobs.wait_idle(0.05)  # a runs; the other slot is free
        other = await asyncio.wait_for(jobs.begin(_nothing_to_do, slots=1), 1)
        gate.set()
        return running, other, await jobs.wait_idle(5), log

    assert asyncio.run(scenario()) == (1, 0, 0, ["a claimed", "a done"])


def test_a_group_larger_than_the_slots_is_refused():
    with pytest.raises(ValueError, match="3 slots"):
        asyncio.run(InflightJobs(limit=2).begin(_nothing_to_do, slots=3))


def test_stop_cancels_waiting_messages_and_jobs_that_outlast_the_timeout():
    async def forever() -> None:
        await asyncio.Event().wait()

    async def claim(start):
        start("job slow", forever())

    async def scenario():
        jobs = InflightJobs(limit=1)
        await jobs.begin(claim, slots=1)
        waiting = asyncio.create_task(jobs.begin(_nothing_to_do, slots=1))
        await asyncio.sleep(0.05)  # it waits for the slot the slow job holds
        stopped = await jobs.stop(0.1)
        return stopped, waiting.cancelled(), await jobs.wait_idle(0)

    assert asyncio.run(scenario()) == (1, True, 0)
