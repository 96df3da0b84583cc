"""docker-compose.yml and deploy/env.example: what the production shape requires."""

from pathlib import Path
from typing import Any

import yaml

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
    environment = _compose()["services"]["api"]["environment"]
    default = environment["HELIXQ_API_WORKERS"].removeprefix("${HELIXQ_API_WORKERS:-")
    assert int(default.removesuffix("}")) >= 2
