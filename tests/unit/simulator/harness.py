"""An in-process simulator reached over a unix socket (TCP may be disabled)."""

import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from simulator.app import create_app
from simulator.settings import SimulatorSettings
from simulator.state import STATE, SimulatorState

KEY = "sk-or-v1-0e6f00000000000000000000000000000000000000000000000000001c96"
AUTH = {"Authorization": f"Bearer {KEY}"}


class SimClient:
    """A client session bound to one running simulator app."""

    def __init__(
        self, session: aiohttp.ClientSession, app: web.Application, socket_path: str
    ) -> None:
        self.session = session
        self.app = app
        self.socket_path = socket_path

    @property
    def state(self) -> SimulatorState:
        return self.app[STATE]

    async def complete(
        self, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        """POST a chat completion with a valid key, returning the open response."""
        response = await self.session.post(
            "/api/v1/chat/completions", json=body, headers={**AUTH, **(headers or {})}
        )
        await response.read()
        return response


def sse_events(text: str) -> list[str]:
    """Split a server-sent events body into its events (comments included)."""
    return [event for event in text.split("\n\n") if event]


def sse_payloads(text: str) -> list[Any]:
    """The JSON payloads of a server-sent events body, in order."""
    return [
        json.loads(event.removeprefix("data: "))
        for event in sse_events(text)
        if event.startswith("data: {")
    ]


def chat(model: str, text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    """A minimal valid request body."""
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


@asynccontextmanager
async def running(settings: SimulatorSettings) -> AsyncIterator[SimClient]:
    """Serve create_app(settings) on a unix socket for the duration of the block."""
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "sim.sock")
        await web.UnixSite(runner, path).start()
        try:
            connector = aiohttp.UnixConnector(path=path)
            async with aiohttp.ClientSession(
                "http://simulator", connector=connector
            ) as session:
                yield SimClient(session, app, path)
        finally:
            await runner.cleanup()
