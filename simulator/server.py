"""Run the simulator: `python -m simulator --host 127.0.0.1 --port 8090`."""

import argparse
import logging
from collections.abc import Sequence

from aiohttp import web

from shared.event_loops import new_event_loop
from simulator.app import create_app
from simulator.settings import SimulatorSettings

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
_BACKLOG = 4096  # benchmarks open hundreds of connections at once


def serve(
    settings: SimulatorSettings, host: str, port: int, *, access_log: bool = False
) -> None:
    """Serve until interrupted; blocks the calling thread."""
    logger.info(
        "simulated OpenRouter at http://%s:%d/api/v1 (latency %d ms)",
        host,
        port,
        settings.latency_ms,
    )
    web.run_app(
        create_app(settings),
        host=host,
        port=port,
        backlog=_BACKLOG,
        # An access log line costs more CPU than a simulated completion.
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
        print=None,
        loop=new_event_loop(),
    )


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="A local OpenRouter-compatible server (settings: HELIXQ_SIM_*).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s"
    )
    serve(SimulatorSettings(), args.host, args.port, access_log=args.access_log)
    return 0
