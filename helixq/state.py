"""The `.helixq/` folder of a local stack: server data, secrets and `stack.env`."""

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from helixq.errors import StackError

STATE_DIR = Path(".helixq")


@dataclass(frozen=True)
class StateDir:
    root: Path = STATE_DIR

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def demo_key_file(self) -> Path:
        return self.root / "demo-api-key"

    @property
    def admin_token_file(self) -> Path:
        return self.root / "admin-token"

    @property
    def stack_env_file(self) -> Path:
        # Read by shared.settings.ENV_FILES: keep the two names in step.
        return self.root / "stack.env"

    @property
    def pid_file(self) -> Path:
        return self.root / "up.pid"


def write_secret(path: Path, value: str) -> None:
    """Write `value` readable by its owner only; never briefly world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(f"{value}\n")
    os.chmod(path, 0o600)  # the mode given to os.open applies only to a new file


def read_secret(path: Path) -> str | None:
    """The stripped content of `path`, or None when it is missing or empty."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return value or None


def ensure_admin_token(path: Path) -> str:
    """The admin token kept in `path`, generated on first use."""
    token = read_secret(path)
    if token is None:
        token = secrets.token_urlsafe(32)
        write_secret(path, token)
    return token


def dotenv_line(name: str, value: str) -> str:
    """`NAME='value'`: single quotes stop dotenv from expanding `$` in passwords."""
    # A quote cannot be escaped inside single quotes; in a URL %27 means the same.
    return f"{name}='{value.replace(chr(39), '%27')}'"


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    lines = [dotenv_line(name, value) for name, value in values.items()]
    write_secret(path, "\n".join(lines))


def claim_pid_file(path: Path) -> None:
    """Record this process as the folder's stack; refuse if another one runs."""
    other = _running_pid(path)
    if other is not None and other != os.getpid():
        raise StackError(
            f"another `helixq up` (pid {other}) runs in this folder; stop it first"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()}\n", encoding="utf-8")


def release_pid_file(path: Path) -> None:
    if _running_pid(path) == os.getpid():
        path.unlink(missing_ok=True)


def _running_pid(path: Path) -> int | None:
    text = read_secret(path)
    if text is None or not text.isdigit():
        return None
    pid = int(text)
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid  # alive, owned by someone else
    return pid
