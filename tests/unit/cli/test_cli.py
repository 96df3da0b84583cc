import pytest
from sqlalchemy.exc import OperationalError

from helixq import cli, cli_admin
from helixq.cli import describe_database_error, main
from helixq.cli_admin import duration_up_to_days
from shared.errors import InvalidRequest, TenantNotFound


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out
    for line in ("0    success", "1    the operation failed", "2    bad usage"):
        assert line in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nonsense"],
        ["keys", "create"],  # --tenant is required
        ["keys", "create", "--tenant", "acme", "--expires-in", "soon"],
        ["keys", "create", "--tenant", "acme", "--expires-in", "0"],
        ["tenants", "create", "Acme", "--strategy", "cheapest"],
        ["worker", "--loglevel", "chatty"],
    ],
)
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == cli.USAGE
    assert "usage: helixq" in capsys.readouterr().err


def test_missing_database_url_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["tenants", "list"]) == cli.USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "helixq: invalid DATABASE_URL: Field required\n"


def test_invalid_database_url_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://db/helixq")
    assert main(["keys", "list", "--tenant", "acme"]) == cli.USAGE
    err = capsys.readouterr().err
    assert err.startswith("helixq: invalid DATABASE_URL='mysql://db/helixq'")
    assert err.count("\n") == 1


def test_a_failed_operation_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unknown_tenant(_args: object) -> int:
        raise TenantNotFound("acme")

    monkeypatch.setattr(cli_admin, "list_keys_command", unknown_tenant)
    assert main(["keys", "list", "--tenant", "acme"]) == cli.FAILED
    assert capsys.readouterr().err == "helixq: tenant 'acme' not found\n"


def test_invalid_input_is_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def bad_name(_args: object) -> int:
        raise InvalidRequest("tenant name '!!!' has no letters or digits")

    monkeypatch.setattr(cli_admin, "create_tenant_command", bad_name)
    assert main(["tenants", "create", "!!!"]) == cli.USAGE
    assert capsys.readouterr().err.startswith("helixq: tenant name")


def test_database_errors_show_the_driver_line_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = OperationalError(
        "SELECT 1", {}, Exception("connection to server failed: refused\nIs it up?")
    )

    def unreachable(_args: object) -> int:
        raise refused

    monkeypatch.setattr(cli_admin, "list_tenants_command", unreachable)
    assert main(["tenants", "list"]) == cli.FAILED
    err = capsys.readouterr().err
    assert err == "helixq: database error: connection to server failed: refused\n"
    assert describe_database_error(refused) == "connection to server failed: refused"


def test_ctrl_c_exits_130_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(_args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_admin, "list_tenants_command", interrupted)
    assert main(["tenants", "list"]) == cli.INTERRUPTED
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 2_592_000.0), ("12h", 43_200.0), ("90", 90.0)]
)
def test_expires_in_accepts_durations(text: str, seconds: float) -> None:
    assert duration_up_to_days(365)(text) == seconds


def test_tenant_create_options_reach_the_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = {}

    def record(args: object) -> int:
        seen.update(vars(args))
        return 0

    monkeypatch.setattr(cli_admin, "create_tenant_command", record)
    argv = ["tenants", "create", "Acme Corp", "--default-model", "openai/gpt-4o"]
    argv += ["--strategy", "cost_optimized", "--fallback", "none"]
    assert main(argv) == 0
    assert seen["name"] == "Acme Corp"
    assert seen["default_model"] == "openai/gpt-4o"
    assert (seen["strategy"], seen["fallback"]) == ("cost_optimized", "none")


@pytest.mark.parametrize(
    "argv",
    [
        ["keys", "create", "--tenant", "acme", "--expires-in", "99999999999d"],
        ["usage", "--window", "99999999d"],
        ["webhooks", "rotate", "--tenant", "acme", "--overlap", "99999999999d"],
    ],
)
def test_a_duration_past_the_calendar_is_refused_with_a_sentence(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "at most" in err
    assert "Traceback" not in err
