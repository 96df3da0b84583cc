import sys
from typing import Any

import pytest

from helixq.cli import main

DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/helixq"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append((args, kwargs))


def test_api_serves_the_factory_on_the_configured_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uvicorn_run, configure_logging = Recorder(), Recorder()
    monkeypatch.setattr("uvicorn.run", uvicorn_run)
    monkeypatch.setattr("shared.logging_setup.configure_logging", configure_logging)
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("HELIXQ_API_PORT", "8100")
    assert main(["api", "--host", "0.0.0.0"]) == 0
    [(args, kwargs)] = uvicorn_run.calls
    # The factory configures logging in each process uvicorn starts.
    assert args == ("broker_api.app:create_served_app",)
    # log_config=None: uvicorn logs through the handler configure_logging installed
    assert kwargs == {
        "factory": True,
        "host": "0.0.0.0",
        "port": 8100,
        "workers": 1,
        "access_log": False,
        "log_config": None,
    }
    assert len(configure_logging.calls) == 1


@pytest.mark.parametrize(
    ("argv", "env", "workers"),
    [(["--workers", "3"], {}, 3), ([], {"HELIXQ_API_WORKERS": "2"}, 2)],
    ids=["flag", "environment"],
)
def test_api_runs_as_many_processes_as_asked(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], env: dict[str, str], workers: int
) -> None:
    uvicorn_run = Recorder()
    monkeypatch.setattr("uvicorn.run", uvicorn_run)
    monkeypatch.setattr("shared.logging_setup.configure_logging", Recorder())
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["api", *argv]) == 0
    [(_, kwargs)] = uvicorn_run.calls
    assert kwargs["workers"] == workers


def test_api_refuses_zero_workers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    uvicorn_run = Recorder()
    monkeypatch.setattr("uvicorn.run", uvicorn_run)
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    with pytest.raises(SystemExit):
        main(["api", "--workers", "0"])
    assert "expected a number of at least 1" in capsys.readouterr().err
    assert uvicorn_run.calls == []


def test_api_refuses_bad_settings_before_starting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    uvicorn_run = Recorder()
    monkeypatch.setattr("uvicorn.run", uvicorn_run)
    assert main(["api"]) == 2
    assert capsys.readouterr().err.startswith("helixq: invalid DATABASE_URL")
    assert uvicorn_run.calls == []


def test_api_refuses_a_bad_tenant_variable_in_one_line_before_starting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    uvicorn_run = Recorder()
    monkeypatch.setattr("uvicorn.run", uvicorn_run)
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("OPENROUTER_TENANT_2_NAME", "beta")
    monkeypatch.setenv("OPENROUTER_TENANT_2_ROUTE_STRATEGY", "cheapest")
    assert main(["api"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "helixq: invalid OPENROUTER_TENANT_2_ROUTE_STRATEGY='cheapest': "
    )
    assert err.count("\n") == 1
    assert uvicorn_run.calls == []


def test_worker_and_beat_pass_their_options_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_worker, run_beat = Recorder(), Recorder()
    monkeypatch.setattr("workers.entrypoints.run_worker", run_worker)
    monkeypatch.setattr("workers.entrypoints.run_beat", run_beat)
    assert main(["worker", "-c", "16", "--loglevel", "debug"]) == 0
    assert main(["beat"]) == 0
    assert run_worker.calls == [
        ((), {"concurrency": 16, "processes": None, "loglevel": "DEBUG"})
    ]
    assert run_beat.calls == [((), {"loglevel": "INFO"})]


def test_flower_keeps_the_broker_url_out_of_its_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_flower = Recorder()
    monkeypatch.setattr("helixq.flower_monitor.run_flower", run_flower)
    monkeypatch.setenv("REDIS_URL", "redis://:s3cret@redis:6379/0")
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("HELIXQ_TENANT_REFRESH_S", "5s")
    assert main(["flower", "--port", "5600"]) == 0
    [((), kwargs)] = run_flower.calls
    assert kwargs["tornado_argv"] == ["--port=5600", "--address=127.0.0.1"]
    assert kwargs["refresh_s"] == 5.0
    assert all("s3cret" not in part for part in [*sys.argv, *kwargs["tornado_argv"]])


def test_flower_refuses_to_start_without_the_tenants_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_flower = Recorder()
    monkeypatch.setattr("helixq.flower_monitor.run_flower", run_flower)
    assert main(["flower"]) == 2
    assert capsys.readouterr().err.startswith("helixq: invalid DATABASE_URL")
    assert run_flower.calls == []


def test_simulator_runs_on_the_given_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulator_main = Recorder()
    monkeypatch.setattr("simulator.server.main", simulator_main)
    main(["simulator", "--port", "8091"])
    assert simulator_main.calls == [((["--host", "127.0.0.1", "--port", "8091"],), {})]


def test_the_api_parses_http_with_httptools() -> None:
    """uvicorn falls back to the pure-Python h11 parser when httptools is missing."""
    from uvicorn.config import Config
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        pass

    config = Config(app=app)  # http="auto", as `helixq api` runs it
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
