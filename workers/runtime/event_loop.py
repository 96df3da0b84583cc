"""One asyncio event loop on a background thread, shared by a worker process.

The consumer hands it messages' jobs, task threads block on `run(...)`, and the loop
multiplexes every in-flight HTTP call on one thread: hundreds of calls cost one loop,
not hundreds of clients. The loop is uvloop's where installed (shared.event_loops).
"""

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import TypeVar

from shared.event_loops import new_event_loop

ResultT = TypeVar("ResultT")

STOP_TIMEOUT_S = 10.0


class EventLoopThread:
    """An event loop running forever on a daemon thread until `stop()`."""

    def __init__(self, name: str = "helixq-event-loop") -> None:
        self._loop = new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, coroutine: Coroutine[object, object, ResultT]) -> Future[ResultT]:
        """Schedule `coroutine` on the loop; safe from any thread."""
        try:
            return asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        except BaseException:
            coroutine.close()  # never started (the loop is closed): no "never awaited"
            raise

    def run(self, coroutine: Coroutine[object, object, ResultT]) -> ResultT:
        """Run `coroutine` on the loop and wait for its result from this thread."""
        return self.submit(coroutine).result()

    def stop(self) -> None:
        """Stop the loop and wait for its thread; idempotent."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_TIMEOUT_S)
        self._loop.close()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
