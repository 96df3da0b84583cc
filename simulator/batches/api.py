"""The Batch API on an app: its routes, its /_sim controls and its clock.

`/_sim/credits` comes with it: adding credits is how a batch locked by 402 unlocks.
"""

from aiohttp import web

from simulator.batches.clock import BATCH_CLOCK, BatchClock, run_batch_clock
from simulator.batches.control import batch_control_routes
from simulator.batches.routes import batch_routes
from simulator.control import add_credits


def add_batch_api(app: web.Application) -> None:
    """Serve batches on `app`; call before the app starts."""
    app[BATCH_CLOCK] = BatchClock()
    app.add_routes([*batch_routes(), *batch_control_routes()])
    app.router.add_post("/_sim/credits", add_credits)
    app.cleanup_ctx.append(run_batch_clock)
