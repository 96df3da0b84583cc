"""The batch clock: one task on the app's event loop moves batches on by time and
posts the callbacks of those that ended.

Reads move a batch on too (they call `advance` with the time of the read); the
clock exists so that batches nobody reads still end and call back.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import suppress

import aiohttp
from aiohttp import web

from simulator.batches.callbacks import deliver, new_delivery
from simulator.batches.lifecycle import advance
from simulator.state import STATE, SimulatorState

logger = logging.getLogger(__name__)

_IDLE_S = 1.0  # a reset swaps the store: look at the new one at least this often
_CALLBACK_TIMEOUT_S = 10


class BatchClock:
    """Wakes the clock task early, and keeps the callbacks in flight."""

    def __init__(self) -> None:
        self.wakeup = asyncio.Event()
        self.deliveries: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Look at the batches now: one was added, moved or ended."""
        self.wakeup.set()


BATCH_CLOCK = web.AppKey("batch_clock", BatchClock)


def _post_callbacks(
    clock: BatchClock, session: aiohttp.ClientSession, state: SimulatorState
) -> None:
    for batch in state.batches.take_ended():
        delivery = new_delivery(batch, state.settings)
        state.batches.deliveries.append(delivery)
        task = asyncio.create_task(deliver(session, batch, delivery, state.settings))
        clock.deliveries.add(task)
        task.add_done_callback(clock.deliveries.discard)


def _tick(
    app: web.Application, clock: BatchClock, session: aiohttp.ClientSession
) -> float:
    """Move every live batch on; return how long to sleep."""
    state = app[STATE]
    now = time.time()
    for batch in state.batches.live():
        advance(batch, now, state)
    _post_callbacks(clock, session, state)
    deadline = state.batches.next_deadline()
    return _IDLE_S if deadline is None else min(max(deadline - now, 0), _IDLE_S)


async def _keep_time(
    app: web.Application, clock: BatchClock, session: aiohttp.ClientSession
) -> None:
    while True:
        try:
            delay_s = _tick(app, clock, session)
        except Exception:  # the clock is a process edge: log, keep ticking
            logger.exception("batch clock tick failed")
            delay_s = _IDLE_S
        with suppress(TimeoutError):
            await asyncio.wait_for(clock.wakeup.wait(), delay_s)
        clock.wakeup.clear()


async def run_batch_clock(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the clock runs while the app serves."""
    clock = app[BATCH_CLOCK]
    timeout = aiohttp.ClientTimeout(total=_CALLBACK_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        task = asyncio.create_task(_keep_time(app, clock, session))
        yield
        pending = [task, *clock.deliveries]
        for running in pending:
            running.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
