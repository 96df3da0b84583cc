"""docker-compose.yml and deploy/env.example: what the production shape requires."""

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from helixq.cli import build_parser
from shared.liveness import ROLES

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose


def _env_example_lines() -> list[str]:
    return (ROOT / "deploy" / "env.example").read_text().splitlines()


def test_the_api_does_not_start_without_a_metrics_token() -> None:
    """Metrics label series with tenant slugs: compose requires the token."""
    environment = _compose()["services"]["api"]["environment"]
    token = environment["HELIXQ_METRICS_TOKEN"]
    assert token.startswith("${HELIXQ_METRICS_TOKEN:?"), token


def test_no_service_opens_the_metrics() -> None:
    for name, service in _compose()["services"].items():
        environment = service.get("environment") or {}
        if isinstance(environment, list):  # the `- NAME=value` spelling
            environment = dict(item.partition("=")[::2] for item in environment)
        assert "HELIXQ_METRICS_OPEN" not in environment, name


def test_env_example_sets_no_metrics_value_and_documents_both() -> None:
    lines = _env_example_lines()
    set_lines = [line for line in lines if line.startswith("HELIXQ_METRICS")]
    assert set_lines == []  # a token in a shared template is no secret
    documented = "\n".join(lines)
    assert "# HELIXQ_METRICS_TOKEN=" in documented
    assert "# HELIXQ_METRICS_OPEN=false" in documented


def test_the_api_runs_more_than_one_process() -> None:
    """One API process is bound to one core by the GIL."""
    command = _compose()["services"]["api"]["command"]
    workers = _interpolated(command[command.index("--workers") + 1])
    assert int(workers) >= 2


def _interpolated(value: str) -> str:
    """A compose value with each `${NAME:-default}` read as its default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def _helixq_services() -> dict[str, Any]:
    """The services running helixq's image."""
    return {
        name: service
        for name, service in _compose()["services"].items()
        if service.get("image") == "helixq:local"
    }


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in _compose()["services"].items():
        if service.get("restart") == "no":
            continue  # a one-shot (the migration): it exits, it is not watched
        assert "healthcheck" in service, name
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name


def test_every_helixq_command_and_healthcheck_exists_in_the_cli() -> None:
    parser = build_parser()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name, service in _helixq_services().items():
        parser.parse_args([_interpolated(part) for part in service["command"]])
        if "healthcheck" in service:
            program = service["healthcheck"]["test"][1]
            assert program in {*scripts, "python"}, (name, program)


def test_workers_and_beat_are_checked_on_their_own_heartbeat() -> None:
    services = _compose()["services"]
    for role in ROLES:
        assert services[role]["healthcheck"]["test"] == ["CMD", "helixq-alive", role]


def test_workers_and_beat_run_replicas() -> None:
    services = _compose()["services"]
    for name in ("worker", "beat"):
        replicas = _interpolated(str(services[name]["deploy"]["replicas"]))
        assert int(replicas) >= 2, name
