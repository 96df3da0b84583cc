from pathlib import Path

import pytest

# Variables that would steer the code under test away from what a test sets up.
_STEERING = (
    "DATABASE_URL",
    "REDIS_URL",
    "OPENROUTER_API_KEY",
    "HELIXQ_ADMIN_TOKEN",
    "HELIXQ_STACK_WORKER_CONCURRENCY",
    "HELIXQ_API_PORT",
    "HELIXQ_API_HOST",
    "HELIXQ_API_URL",
    "HELIXQ_API_KEY",
)


@pytest.fixture(autouse=True)
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder (no .env, no .helixq/) and none of our variables."""
    for name in _STEERING:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path
