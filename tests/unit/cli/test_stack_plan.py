from typing import Any

import pytest
from pydantic import SecretStr

from helixq.settings import StackSettings
from helixq.stack_plan import (
    ChildSpec,
    StackPlan,
    child_specs,
    poll_command,
    ready_lines,
    simulator_warning,
    submit_command,
)

ADMIN_TOKEN = "admin-token-value"
DATABASE_URL = "postgresql://postgres:@/helixq?host=/tmp/pg"
REDIS_URL = "redis://127.0.0.1:6390/0"


def _plan(**settings: Any) -> StackPlan:
    return StackPlan(StackSettings(**settings), DATABASE_URL, REDIS_URL, ADMIN_TOKEN)


def _by_name(specs: list[ChildSpec]) -> dict[str, ChildSpec]:
    return {spec.name: spec for spec in specs}


def test_without_an_openrouter_key_the_simulator_starts_first() -> None:
    specs = child_specs(_plan(), python="/venv/bin/python")
    assert [spec.name for spec in specs] == [
        "simulator",
        "api",
        "worker",
        "beat",
        "flower",
    ]
    simulator = specs[0]
    assert simulator.argv == (
        "/venv/bin/python", "-m", "helixq", "simulator",
        "--host", "127.0.0.1", "--port", "8090",
    )  # fmt: skip
    assert simulator.env["HELIXQ_SIM_LATENCY_MS"] == "300"


def test_simulated_children_point_at_the_simulator_with_a_simulator_key() -> None:
    plan = _plan()
    for spec in child_specs(plan):
        assert spec.env["OPENROUTER_BASE_URL"] == "http://127.0.0.1:8090/api/v1"
        assert spec.env["OPENROUTER_API_KEY"].startswith("sk-or-v1-simulator-")
    assert plan.is_simulated


def test_every_child_gets_the_servers_the_token_and_private_webhooks() -> None:
    for spec in child_specs(_plan()):
        assert spec.env["DATABASE_URL"] == DATABASE_URL
        assert spec.env["REDIS_URL"] == REDIS_URL
        assert spec.env["HELIXQ_ADMIN_TOKEN"] == ADMIN_TOKEN
        assert spec.env["HELIXQ_WEBHOOK_ALLOW_PRIVATE"] == "true"


def test_only_flower_may_answer_its_api_without_a_login() -> None:
    specs = _by_name(child_specs(_plan()))
    assert specs["flower"].env["FLOWER_UNAUTHENTICATED_API"] == "true"
    assert specs["flower"].argv[-4:] == ("--port", "5555", "--address", "127.0.0.1")
    others = [spec for name, spec in specs.items() if name != "flower"]
    assert all("FLOWER_UNAUTHENTICATED_API" not in spec.env for spec in others)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_only_the_api_on_loopback_serves_metrics_without_a_token(host: str) -> None:
    specs = _by_name(child_specs(_plan(helixq_api_host=host)))
    assert specs["api"].env["HELIXQ_METRICS_OPEN"] == "true"
    others = [spec for name, spec in specs.items() if name != "api"]
    assert all("HELIXQ_METRICS_OPEN" not in spec.env for spec in others)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "broker.lan"])
def test_an_api_off_loopback_keeps_its_metrics_closed(host: str) -> None:
    api = _by_name(child_specs(_plan(helixq_api_host=host)))["api"]
    assert "HELIXQ_METRICS_OPEN" not in api.env


def test_with_an_openrouter_key_there_is_no_simulator_and_no_override() -> None:
    plan = _plan(openrouter_api_key=SecretStr("sk-or-v1-real"))
    specs = child_specs(plan)
    assert "simulator" not in _by_name(specs)
    for spec in specs:
        assert "OPENROUTER_API_KEY" not in spec.env  # inherited as given
        assert "OPENROUTER_BASE_URL" not in spec.env
    assert not plan.is_simulated


def test_ports_and_worker_concurrency_come_from_the_settings() -> None:
    plan = _plan(helixq_api_port=9000, helixq_stack_worker_concurrency=3)
    specs = _by_name(child_specs(plan))
    assert specs["api"].argv[-4:] == ("--host", "127.0.0.1", "--port", "9000")
    assert specs["worker"].argv[-3:] == ("worker", "-c", "3")
    assert _by_name(child_specs(_plan()))["worker"].argv[-1] == "worker"


def test_ready_lines_show_every_url_and_no_secret() -> None:
    plan = _plan()
    text = "\n".join(ready_lines(plan))
    for url in (
        "http://127.0.0.1:8000/docs",
        "http://127.0.0.1:8000/dashboard",
        "http://127.0.0.1:5555",
        "http://127.0.0.1:8090",
    ):
        assert url in text
    assert ADMIN_TOKEN not in text
    assert plan.simulator_key not in text
    assert ".helixq/admin-token" in text


def test_a_given_admin_token_is_named_not_shown() -> None:
    plan = _plan(helixq_admin_token=SecretStr(ADMIN_TOKEN))
    text = "\n".join(ready_lines(plan))
    assert "HELIXQ_ADMIN_TOKEN" in text
    assert ADMIN_TOKEN not in text


def test_curl_commands_read_the_demo_key_file() -> None:
    plan = _plan()
    submit = submit_command(plan)
    assert submit.startswith("JOB=$(curl -s http://127.0.0.1:8000/v1/jobs ")
    assert '-H "Authorization: Bearer $(cat .helixq/demo-api-key)"' in submit
    assert '"model": "openai/gpt-4o-mini"' in submit
    poll = poll_command(plan)
    assert poll.startswith('curl -s "http://127.0.0.1:8000/v1/jobs/$JOB" ')
    assert "$(cat .helixq/demo-api-key)" in poll


@pytest.mark.parametrize("host", ["::1"])
def test_ipv6_hosts_are_bracketed(host: str) -> None:
    assert _plan(helixq_api_host=host).api_url == "http://[::1]:8000"


def test_the_simulator_warning_is_one_loud_line() -> None:
    warning = simulator_warning(_plan())
    assert warning.startswith("⚠ OPENROUTER_API_KEY is not set")
    assert "http://127.0.0.1:8090" in warning
    assert "\n" not in warning


def test_the_worker_lets_its_calls_end_within_the_stack_grace() -> None:
    worker = _by_name(child_specs(_plan(helixq_stack_grace_s=10)))["worker"]
    # What is left after the grace hands back the jobs of calls cut off.
    assert float(worker.env["HELIXQ_WORKER_STOP_GRACE_S"]) == 7


def test_a_worker_stop_grace_given_to_the_stack_is_kept() -> None:
    plan = _plan(helixq_stack_grace_s=30, helixq_worker_stop_grace_s="20s")
    worker = _by_name(child_specs(plan))["worker"]
    assert float(worker.env["HELIXQ_WORKER_STOP_GRACE_S"]) == 20
