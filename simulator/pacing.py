"""When tokens come out: the first after the latency, then one per token interval.

While a stream waits for its first token it sends `: OPENROUTER PROCESSING` at a
steady interval, and it looks at its connection often enough to notice a client
that went away within a fraction of a second, without writing to it.
"""

import asyncio
import time

from aiohttp import web

from simulator.replies import Reply
from simulator.settings import SimulatorSettings

PROCESSING = b": OPENROUTER PROCESSING\n\n"
_CONNECTION_CHECK_S = 0.05


def generation_s(reply: Reply, settings: SimulatorSettings) -> float:
    """Return the time from the first token to the last."""
    return max(reply.ticks - 1, 0) * settings.token_interval_ms / 1000


class Pacer:
    """Waits out a stream's schedule, keeping the connection alive and watched."""

    def __init__(
        self,
        request: web.Request,
        response: web.StreamResponse,
        settings: SimulatorSettings,
    ) -> None:
        self._request = request
        self._response = response
        self._comment_s = settings.processing_interval_ms / 1000
        self.token_interval_s = settings.token_interval_ms / 1000
        self._last_comment_s = time.monotonic()

    def _is_gone(self) -> bool:
        transport = self._request.transport
        return transport is None or transport.is_closing()

    async def comment(self) -> None:
        """Send a processing comment now."""
        await self._response.write(PROCESSING)
        self._last_comment_s = time.monotonic()

    async def wait_until(self, deadline_s: float, *, is_thinking: bool) -> None:
        """Sleep until a monotonic deadline; comment meanwhile while thinking.

        Raises ConnectionResetError as soon as the client has gone.
        """
        while True:
            if self._is_gone():
                raise ConnectionResetError("the client closed the stream")
            now_s = time.monotonic()
            if now_s >= deadline_s:
                return
            pause_s = min(deadline_s - now_s, _CONNECTION_CHECK_S)
            if is_thinking:
                next_comment_s = self._last_comment_s + self._comment_s
                if now_s >= next_comment_s:
                    await self.comment()
                    continue
                pause_s = min(pause_s, next_comment_s - now_s)
            await asyncio.sleep(pause_s)
