"""`helixq webhooks secret|rotate` on the test database."""

import argparse
import base64
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from helixq.cli_webhooks import add_webhook_commands
from shared.errors import TenantNotFound
from shared.tenancy import create_tenant, find_tenant
from shared.webhooks.secrets import signing_secrets
from tests.factories import unique_name
from tests.services import Services
from workers.webhooks.delivery import utc_now


@pytest.fixture
def run(services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run `helixq webhooks ...` against the test database; its stdout."""
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("DATABASE_URL", services.database_url)
    parser = argparse.ArgumentParser(prog="helixq")
    add_webhook_commands(parser.add_subparsers(dest="command", required=True))

    def run_command(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
        args = parser.parse_args(["webhooks", *argv])
        assert args.handler(args) == 0
        return capsys.readouterr().out

    return run_command


@pytest.fixture
def slug(sessions: sessionmaker[Session]) -> str:
    with sessions.begin() as session:
        return create_tenant(session, unique_name()).slug


def test_secret_prints_one_whsec_line_and_keeps_it(run, slug, capsys) -> None:
    first = run(capsys, "secret", "--tenant", slug)
    assert first.endswith("\n")
    assert first.count("\n") == 1
    secret = first.strip()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert run(capsys, "secret", "--tenant", slug).strip() == secret


def test_rotate_prints_a_new_secret_and_both_sign_during_the_overlap(
    run, slug, capsys, sessions: sessionmaker[Session]
) -> None:
    old = run(capsys, "secret", "--tenant", slug).strip()
    new = run(capsys, "rotate", "--tenant", slug, "--overlap", "1h").strip()
    assert new.startswith("whsec_")
    assert new != old
    assert run(capsys, "secret", "--tenant", slug).strip() == new
    with sessions.begin() as session:
        tenant_id = find_tenant(session, slug).id
        assert signing_secrets(session, tenant_id, now=utc_now()) == [new, old]


def test_rotate_without_overlap_retires_the_old_secret(
    run, slug, capsys, sessions: sessionmaker[Session]
) -> None:
    run(capsys, "secret", "--tenant", slug)
    new = run(capsys, "rotate", "--tenant", slug, "--overlap", "0").strip()
    with sessions.begin() as session:
        tenant_id = find_tenant(session, slug).id
        assert signing_secrets(session, tenant_id, now=utc_now()) == [new]


def test_unknown_tenant_is_an_error(run, capsys) -> None:
    with pytest.raises(TenantNotFound):
        run(capsys, "secret", "--tenant", "no-such-tenant")


def test_bad_overlap_is_a_usage_error(run, slug, capsys) -> None:
    with pytest.raises(SystemExit):
        run(capsys, "rotate", "--tenant", slug, "--overlap", "soon")
