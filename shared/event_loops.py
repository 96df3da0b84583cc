"""The event loop our asyncio processes run on: uvloop's where it is installed.

Polling, callbacks and socket writes are much of the CPU of a process holding
hundreds of connections (a worker's calls, the simulator's answers); uvloop does
that work in C. Where it is not built (Windows), asyncio's own loop serves.
"""

import asyncio


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new uvloop loop when uvloop is installed, else asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
