import os
import signal
import sys
import time
from pathlib import Path

import pytest

from helixq import stack
from helixq.cli import USAGE, main
from helixq.errors import StackError
from helixq.settings import StackSettings
from helixq.stack import StackStopped, _stop_on_signals, run_stack
from helixq.stack_plan import ChildSpec, StackPlan
from helixq.state import StateDir


def _given_servers() -> StackSettings:
    return StackSettings(
        database_url="postgresql://db/helixq", redis_url="redis://r:1/0"
    )


@pytest.fixture
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack, "prepare_database", lambda *_a, **_k: None)


def _only_child(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """The stack runs this one child, and its API never answers."""
    spec = ChildSpec("api", (sys.executable, "-c", code), {})
    monkeypatch.setattr(stack, "child_specs", lambda _plan: [spec])
    monkeypatch.setattr(stack, "answers", lambda _url: False)


def _signal_self(signum: signal.Signals) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(1)  # the handler runs between bytecodes, so raises in here


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_first_stop_signal_raises_and_later_ones_are_ignored(
    signum: signal.Signals,
) -> None:
    before = signal.getsignal(signum)
    with _stop_on_signals():
        with pytest.raises(StackStopped):
            _signal_self(signum)
        os.kill(os.getpid(), signum)  # ignored: shutdown must not be interrupted
        time.sleep(0.05)
    assert signal.getsignal(signum) == before


@pytest.mark.usefixtures("no_database")
def test_a_dying_child_stops_the_stack_and_cleans_up(
    monkeypatch: pytest.MonkeyPatch, isolated_cwd: Path
) -> None:
    _only_child(monkeypatch, "raise SystemExit(3)")
    state = StateDir()
    with pytest.raises(StackError, match=r"api exited unexpectedly \(code 3\)"):
        run_stack(_given_servers(), state)
    assert not state.stack_env_file.exists()
    assert not state.pid_file.exists()
    assert (isolated_cwd / ".helixq" / "admin-token").exists()


@pytest.mark.parametrize(
    ("variables", "line"),
    [
        (
            {"HELIXQ_TENANT_2_CLIENT_KEY": "hqk_too_short"},
            "invalid HELIXQ_TENANT_2_CLIENT_KEY: "
            "an API key needs at least 20 characters",
        ),
        (
            {"OPENROUTER_TENANT_2_API_KEY": "sk-or-v1-" + "ab12" * 16},
            "HELIXQ_SECRET_KEY is not set: it seals tenants' OpenRouter keys "
            "at rest (`helixq secrets generate` makes one); "
            "OPENROUTER_TENANT_2_API_KEY needs it",
        ),
    ],
)
def test_a_bad_tenant_setting_stops_up_in_one_line_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variables: dict[str, str],
    line: str,
) -> None:
    prepared = []
    monkeypatch.setattr(stack, "prepare_database", lambda *a, **k: prepared.append(a))
    _only_child(monkeypatch, "raise SystemExit(3)")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/helixq")
    monkeypatch.setenv("REDIS_URL", "redis://r:1/0")
    monkeypatch.delenv("HELIXQ_SECRET_KEY", raising=False)
    monkeypatch.setenv("OPENROUTER_TENANT_2_NAME", "beta")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert main(["up"]) == USAGE
    err = capsys.readouterr().err
    assert err == f"helixq: {line}\n"
    assert "ab12" not in err  # a key is never echoed
    assert prepared == []


@pytest.mark.usefixtures("no_database")
def test_ctrl_c_stops_every_child_and_removes_stack_env(
    monkeypatch: pytest.MonkeyPatch, isolated_cwd: Path
) -> None:
    pid_file = isolated_cwd / "child.pid"
    _only_child(
        monkeypatch,
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
        "time.sleep(60)",
    )
    seen: dict[str, str] = {}

    def ready_then_interrupt(plan: StackPlan, _supervisor: object) -> None:
        seen["stack.env"] = plan.state.stack_env_file.read_text()
        while not pid_file.exists() or not pid_file.read_text():
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)

    monkeypatch.setattr(stack, "_wait_until_ready", ready_then_interrupt)
    assert run_stack(_given_servers(), StateDir()) == 0
    assert "DATABASE_URL='postgresql://db/helixq'" in seen["stack.env"]
    assert "REDIS_URL='redis://r:1/0'" in seen["stack.env"]
    assert not (isolated_cwd / ".helixq" / "stack.env").exists()
    child = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_a_busy_valkey_port_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stack, "is_port_bindable", lambda _host, _port: False)
    with pytest.raises(StackError, match="HELIXQ_STACK_REDIS_PORT"):
        stack._valkey(StateDir(), 6390)


@pytest.mark.parametrize("simulated", [True, False])
def test_up_checks_the_default_model_against_the_catalog_it_will_use(
    monkeypatch: pytest.MonkeyPatch, simulated: bool
) -> None:
    prepared: list[dict[str, object]] = []
    monkeypatch.setattr(stack, "prepare_database", lambda *_a, **k: prepared.append(k))
    _only_child(monkeypatch, "raise SystemExit(3)")
    monkeypatch.setenv("OPENROUTER_DEFAULT_MODEL", "openrouter/openai/gpt-4o")
    settings = _given_servers()
    if not simulated:
        settings = settings.model_copy(update={"openrouter_api_key": "sk-or-v1-x"})
    with pytest.raises(StackError):
        run_stack(settings, StateDir())
    [given] = prepared
    assert given["default_model"] == "openrouter/openai/gpt-4o"
    listed = {model.id for model in given["catalog"]}  # type: ignore[attr-defined]
    # The simulator's models are the catalog before its first sync; OpenRouter's
    # are known only once synced.
    assert ("sim/ok" in listed and "openai/gpt-4o" in listed) is simulated
    assert bool(listed) is simulated
