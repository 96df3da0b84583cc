"""What `helixq up` runs: child command lines, their environment, the URLs to print.

Pure functions of the settings and the chosen servers, so tests can read them.
"""

import ipaddress
import json
import secrets
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from helixq.settings import StackSettings
from helixq.state import StateDir

DEMO_MODEL = "openai/gpt-4o-mini"
DEMO_MESSAGE = {"role": "user", "content": "Say hello"}
SIMULATOR_KEY_PREFIX = "sk-or-v1-simulator-"  # the simulator accepts any sk-or- key
# Of the stack's grace, what a stopping worker keeps to hand back the jobs whose
# calls it cut off (workers.runtime.inflight gives that up to 5 s; it takes
# milliseconds).
WORKER_HAND_BACK_S = 3.0


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]  # set on top of the inherited environment


@dataclass(frozen=True)
class StackPlan:
    settings: StackSettings
    database_url: str
    redis_url: str
    admin_token: str
    state: StateDir = field(default_factory=StateDir)
    simulator_key: str = field(
        default_factory=lambda: SIMULATOR_KEY_PREFIX + secrets.token_hex(16)
    )

    @property
    def is_simulated(self) -> bool:
        """No OpenRouter key given: the local simulator stands in for OpenRouter."""
        return self.settings.is_simulated

    @property
    def api_url(self) -> str:
        return _url(self.settings.helixq_api_host, self.settings.helixq_api_port)

    @property
    def simulator_url(self) -> str:
        return _url(self.settings.helixq_sim_host, self.settings.helixq_sim_port)

    @property
    def flower_url(self) -> str:
        return _url("127.0.0.1", self.settings.helixq_flower_port)


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def shared_environment(plan: StackPlan) -> dict[str, str]:
    """Variables every child gets on top of the environment `helixq up` was given."""
    env = {
        "DATABASE_URL": plan.database_url,
        "REDIS_URL": plan.redis_url,
        "HELIXQ_ADMIN_TOKEN": plan.admin_token,
        # Webhook receivers of a local demo live on localhost.
        "HELIXQ_WEBHOOK_ALLOW_PRIVATE": "true",
        "PYTHONUNBUFFERED": "1",  # lines reach the prefixed output as they happen
    }
    if plan.is_simulated:
        env["OPENROUTER_BASE_URL"] = f"{plan.simulator_url}/api/v1"
        env["OPENROUTER_API_KEY"] = plan.simulator_key
    return env


def child_specs(plan: StackPlan, *, python: str = sys.executable) -> list[ChildSpec]:
    """The processes of the stack, in start order (the simulator before its users)."""
    settings = plan.settings
    helixq = (python, "-m", "helixq")
    env = shared_environment(plan)
    specs = []
    if plan.is_simulated:
        sim_env = {**env, "HELIXQ_SIM_LATENCY_MS": str(settings.helixq_sim_latency_ms)}
        sim_args = _host_port(settings.helixq_sim_host, settings.helixq_sim_port)
        specs.append(ChildSpec("simulator", (*helixq, "simulator", *sim_args), sim_env))
    api_args = _host_port(settings.helixq_api_host, settings.helixq_api_port)
    api_env = {**env, **_metrics_environment(settings.helixq_api_host)}
    specs.append(ChildSpec("api", (*helixq, "api", *api_args), api_env))
    concurrency = settings.helixq_stack_worker_concurrency
    worker_args = ("-c", str(concurrency)) if concurrency else ()
    worker_env = {
        **env,
        "HELIXQ_WORKER_STOP_GRACE_S": f"{worker_stop_grace_s(settings):g}",
    }
    specs.append(ChildSpec("worker", (*helixq, "worker", *worker_args), worker_env))
    specs.append(ChildSpec("beat", (*helixq, "beat"), env))
    # A local stack on loopback: Flower's API may answer without a login here only.
    flower_env = {**env, "FLOWER_UNAUTHENTICATED_API": "true"}
    flower_args = ("--port", str(settings.helixq_flower_port), "--address", "127.0.0.1")
    specs.append(ChildSpec("flower", (*helixq, "flower", *flower_args), flower_env))
    return specs


def _metrics_environment(api_host: str) -> dict[str, str]:
    """Prometheus may scrape a loopback API without a token; elsewhere it needs one."""
    if api_host == "localhost" or _is_loopback_address(api_host):
        return {"HELIXQ_METRICS_OPEN": "true"}
    return {}


def _is_loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def worker_stop_grace_s(settings: StackSettings) -> float:
    """How long the stack's worker lets its calls run on when stopped: within the
    stack's grace, so that it hands back what it cuts off before any SIGKILL."""
    within_s = max(settings.helixq_stack_grace_s - WORKER_HAND_BACK_S, 0.0)
    given_s = settings.helixq_worker_stop_grace_s
    return within_s if given_s is None else min(given_s, within_s)


def _host_port(host: str, port: int) -> tuple[str, ...]:
    return ("--host", host, "--port", str(port))


def submit_command(plan: StackPlan) -> str:
    """A curl that submits a job as the demo tenant and keeps its id in $JOB."""
    body = json.dumps({"model": DEMO_MODEL, "messages": [DEMO_MESSAGE]})
    read_id = "import json,sys; print(json.load(sys.stdin)['id'])"
    return (
        f"JOB=$(curl -s {plan.api_url}/v1/jobs {_auth(plan)} "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)} "
        f'| python3 -c "{read_id}"); echo "$JOB"'
    )


def poll_command(plan: StackPlan) -> str:
    return f'curl -s "{plan.api_url}/v1/jobs/$JOB" {_auth(plan)}'


def _auth(plan: StackPlan) -> str:
    return f'-H "Authorization: Bearer $(cat {plan.state.demo_key_file})"'


def ready_lines(plan: StackPlan) -> list[str]:
    """What to print once the API answers: every URL and two commands to paste."""
    lines = [
        f"API        {plan.api_url}",
        f"OpenAPI    {plan.api_url}/docs",
        f"Dashboard  {plan.api_url}/dashboard",
        f"Flower     {plan.flower_url}",
    ]
    if plan.is_simulated:
        lines.append(f"Simulator  {plan.simulator_url}")
    lines += [
        f"Demo key   {plan.state.demo_key_file}",
        f"Admin      {_admin_token_source(plan)}",
        "Submit a job (from this folder):",
        f"  {submit_command(plan)}",
        "Poll it:",
        f"  {poll_command(plan)}",
        "Ctrl-C stops everything.",
    ]
    return lines


def _admin_token_source(plan: StackPlan) -> str:
    if plan.settings.helixq_admin_token is not None:
        return "token from HELIXQ_ADMIN_TOKEN"
    return f"token in {plan.state.admin_token_file}"


def simulator_warning(plan: StackPlan) -> str:
    return (
        f"⚠ OPENROUTER_API_KEY is not set: using the local OpenRouter simulator at "
        f"{plan.simulator_url} (no real model is called)"
    )
