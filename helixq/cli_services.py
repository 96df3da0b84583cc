"""`helixq up|api|worker|beat|flower|simulator|migrate`: run the broker's processes.

Each handler imports its package only when run, so `helixq --help` and the admin
commands load no web framework and no Celery.
"""

import argparse
from typing import TypeAlias

from helixq.settings import FlowerSettings, StackSettings
from helixq.state import StateDir
from shared.settings import DatabaseSettings, TenantSeedSettings, load_settings

# argparse exposes no public name for what add_subparsers() returns.
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SIMULATOR_HOST = "127.0.0.1"
SIMULATOR_PORT = 8090
FLOWER_PORT = 5555


def add_service_commands(commands: SubParsers) -> None:
    up = commands.add_parser(
        "up",
        help="run the whole stack on this machine (Ctrl-C stops it)",
        description="Start Postgres and Valkey (embedded unless DATABASE_URL / "
        "REDIS_URL are set), migrate, then the API, a worker, beat, Flower and, "
        "without OPENROUTER_API_KEY, the OpenRouter simulator. State in .helixq/.",
    )
    up.set_defaults(handler=run_up)

    api = commands.add_parser("api", help="serve the HTTP API (uvicorn)")
    api.add_argument("--host", help="default: HELIXQ_API_HOST or 127.0.0.1")
    api.add_argument("--port", type=int, help="default: HELIXQ_API_PORT or 8000")
    api.add_argument(
        "--workers",
        type=positive_int,
        help="API processes sharing the port, one core each "
        "(default: HELIXQ_API_WORKERS or 1)",
    )
    api.set_defaults(handler=run_api)

    worker = commands.add_parser("worker", help="run a Celery worker")
    worker.add_argument(
        "-c", "--concurrency", type=int, help="claiming threads per process"
    )
    worker.add_argument(
        "-p", "--processes", type=int, help="worker processes on this node"
    )
    _add_loglevel(worker)
    worker.set_defaults(handler=run_worker)

    beat = commands.add_parser("beat", help="run the periodic-task scheduler")
    _add_loglevel(beat)
    beat.set_defaults(handler=run_beat)

    _add_flower(commands)
    _add_simulator(commands)

    migrate = commands.add_parser(
        "migrate", help="upgrade DATABASE_URL to the newest schema"
    )
    migrate.set_defaults(handler=run_migrate)


def _add_loglevel(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--loglevel", default="INFO", type=str.upper, choices=LOG_LEVELS
    )


def _add_flower(commands: SubParsers) -> None:
    flower = commands.add_parser(
        "flower",
        help="run Flower, the Celery monitor",
        description="Flower on the broker at REDIS_URL; its Broker page lists every "
        "tenant's queue, read from DATABASE_URL. In production protect it: "
        "FLOWER_BASIC_AUTH=user:password (or --basic-auth via FLOWER_* variables).",
    )
    flower.add_argument("--port", type=int, default=FLOWER_PORT)
    flower.add_argument("--address", default="127.0.0.1", help="interface to listen on")
    flower.set_defaults(handler=run_flower)


def _add_simulator(commands: SubParsers) -> None:
    simulator = commands.add_parser(
        "simulator",
        help="run the local OpenRouter-compatible simulator",
        description="Settings: HELIXQ_SIM_* (latency, failure rates, credits).",
    )
    simulator.add_argument("--host", default=SIMULATOR_HOST)
    simulator.add_argument("--port", type=int, default=SIMULATOR_PORT)
    simulator.set_defaults(handler=run_simulator)


def run_up(_args: argparse.Namespace) -> int:
    from helixq.stack import run_stack

    return run_stack(load_settings(StackSettings), StateDir())


def run_api(args: argparse.Namespace) -> int:
    import uvicorn

    from broker_api.settings import ApiSettings
    from shared.configured_models import check_environment_models_at_start
    from shared.logging_setup import LoggingSettings, configure_logging
    from shared.openrouter_key_store import check_seed_sealing

    settings = load_settings(ApiSettings)  # a bad variable: one line, not a traceback
    if settings.helixq_seed_tenants:
        # Checked here as well as at start-up, where uvicorn reports a traceback.
        seeds = load_settings(TenantSeedSettings).tenants
        check_seed_sealing(seeds, settings.box())
        check_environment_models_at_start(settings, seeds=seeds)
    configure_logging(load_settings(LoggingSettings))  # this process's own lines
    uvicorn.run(
        "broker_api.app:create_served_app",
        factory=True,
        host=args.host or settings.helixq_api_host,
        port=args.port or settings.helixq_api_port,
        workers=args.workers or settings.helixq_api_workers,
        access_log=settings.helixq_api_access_log,
        log_config=None,  # uvicorn's lines go through our handler: format, redaction
    )
    return 0


def positive_int(text: str) -> int:
    """An argparse type: a whole number above zero."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got {text!r}"
        ) from None
    if number < 1:
        raise argparse.ArgumentTypeError("expected a number of at least 1")
    return number


def run_worker(args: argparse.Namespace) -> int:
    from workers.entrypoints import run_worker as start_worker

    start_worker(
        concurrency=args.concurrency,
        processes=args.processes,
        loglevel=args.loglevel,
    )
    return 0


def run_beat(args: argparse.Namespace) -> int:
    from workers.entrypoints import run_beat as start_beat

    start_beat(loglevel=args.loglevel)
    return 0


def run_flower(args: argparse.Namespace) -> int:
    """Run Flower on the workers' Celery app, every tenant queue on its Broker page."""
    from helixq.flower_monitor import run_flower as start_flower
    from shared.db.session import make_engine, make_sessions

    settings = load_settings(FlowerSettings)
    # The broker URL stays out of argv (`ps` shows argv): the Celery app reads it.
    start_flower(
        sessions=make_sessions(make_engine(settings)),
        refresh_s=settings.helixq_tenant_refresh_s,
        tornado_argv=[f"--port={args.port}", f"--address={args.address}"],
    )
    return 0


def run_simulator(args: argparse.Namespace) -> int:
    from simulator.server import main as simulator_main

    return simulator_main(["--host", args.host, "--port", str(args.port)])


def run_migrate(_args: argparse.Namespace) -> int:
    from shared.db.migrate import upgrade_to_head

    upgrade_to_head(load_settings(DatabaseSettings).database_url)
    return 0
