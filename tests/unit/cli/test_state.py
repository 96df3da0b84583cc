import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from helixq.errors import StackError
from helixq.state import (
    StateDir,
    claim_pid_file,
    dotenv_line,
    ensure_admin_token,
    read_secret,
    release_pid_file,
    write_env_file,
    write_secret,
)
from shared.settings import DatabaseSettings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_are_written_owner_only_even_over_a_looser_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "secret"
    path.parent.mkdir()
    path.write_text("old")
    path.chmod(0o644)
    write_secret(path, "s3cret")
    assert path.read_text() == "s3cret\n"
    assert _mode(path) == 0o600


def test_read_secret_treats_missing_and_blank_as_none(tmp_path: Path) -> None:
    assert read_secret(tmp_path / "missing") is None
    (tmp_path / "blank").write_text("  \n")
    assert read_secret(tmp_path / "blank") is None
    (tmp_path / "key").write_text("hqk_abc\n")
    assert read_secret(tmp_path / "key") == "hqk_abc"


def test_admin_token_is_generated_once(tmp_path: Path) -> None:
    path = StateDir(tmp_path).admin_token_file
    first = ensure_admin_token(path)
    assert len(first) >= 40
    assert _mode(path) == 0o600
    assert ensure_admin_token(path) == first


def test_state_dir_defaults_to_dot_helixq() -> None:
    state = StateDir()
    assert state.stack_env_file == Path(".helixq/stack.env")
    assert state.demo_key_file == Path(".helixq/demo-api-key")
    assert state.data == Path(".helixq/data")


def test_stack_env_round_trips_through_the_settings_classes(
    tmp_path: Path,
) -> None:
    # `$` must not be expanded, `'` must survive: passwords hold both.
    url = "postgresql://user:pa$$wo'rd@db:5432/helixq"
    path = tmp_path / "stack.env"
    write_env_file(path, {"DATABASE_URL": url})
    assert _mode(path) == 0o600
    settings = DatabaseSettings(_env_file=path)
    assert settings.database_url == url.replace("'", "%27")


def test_dotenv_line_quotes_the_value() -> None:
    assert dotenv_line("REDIS_URL", "redis://h:1/0") == "REDIS_URL='redis://h:1/0'"


def test_pid_file_refuses_a_second_live_stack(tmp_path: Path) -> None:
    path = tmp_path / "up.pid"
    path.write_text(f"{os.getppid()}\n")  # a process that is surely alive
    with pytest.raises(StackError, match="another `helixq up`"):
        claim_pid_file(path)


def test_pid_file_of_a_dead_stack_is_taken_over_and_released(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "up.pid"
    path.write_text(f"{dead.pid}\n")
    claim_pid_file(path)
    assert path.read_text() == f"{os.getpid()}\n"
    release_pid_file(path)
    assert not path.exists()
