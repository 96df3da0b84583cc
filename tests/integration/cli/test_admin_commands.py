from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from helixq.cli import FAILED, USAGE, main
from shared.api_keys import KEY_PREFIX, hash_api_key, key_prefix
from shared.db.models import ApiKey, AuditEvent, Tenant

pytestmark = pytest.mark.usefixtures("cli_database")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def _stored_key(engine: Engine, prefix: str) -> ApiKey:
    with Session(engine) as session:
        api_key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        assert api_key is not None
        return api_key


def test_tenants_create_prints_the_slug_and_list_shows_it(
    capsys: pytest.CaptureFixture[str], tenant_name: str, engine: Engine
) -> None:
    argv = ("tenants", "create", tenant_name, "--default-model", "openai/gpt-4o")
    slug = _run(capsys, *argv, "--strategy", "cost_optimized").strip()
    assert slug == tenant_name.lower().replace(" ", "-")
    listing = _run(capsys, "tenants", "list")
    assert listing.splitlines()[0].split() == [
        "SLUG", "NAME", "DEFAULT", "MODEL", "STRATEGY", "FALLBACK", "CREATED",
    ]  # fmt: skip
    row = next(line for line in listing.splitlines() if line.startswith(slug))
    assert "openai/gpt-4o" in row
    assert "cost_optimized" in row
    with Session(engine) as session:
        tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
        assert tenant is not None
        assert tenant.route_strategy == "cost_optimized"


def test_a_tenant_default_model_missing_from_the_catalog_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tenant_name: str, listed_model: str
) -> None:
    typo = listed_model.replace("steady", "stedy")
    argv = ["tenants", "create", tenant_name, "--default-model", typo]
    assert main(argv) == USAGE
    assert capsys.readouterr().err == (
        f"helixq: unknown model {typo!r}; did you mean {listed_model!r}?\n"
    )


def test_creating_a_tenant_twice_fails_with_one_line(
    capsys: pytest.CaptureFixture[str], tenant_name: str
) -> None:
    slug = _run(capsys, "tenants", "create", tenant_name).strip()
    assert main(["tenants", "create", tenant_name]) == FAILED
    assert capsys.readouterr().err == f"helixq: tenant {slug!r} already exists\n"


def test_keys_create_prints_the_key_alone_and_stores_only_its_hash(
    capsys: pytest.CaptureFixture[str], tenant_name: str, engine: Engine
) -> None:
    slug = _run(capsys, "tenants", "create", tenant_name).strip()
    out = _run(capsys, "keys", "create", "--tenant", slug, "--name", "ci")
    key = out.removesuffix("\n")
    assert "\n" not in key
    assert key.startswith(KEY_PREFIX)
    stored = _stored_key(engine, key_prefix(key))
    assert stored.key_hash == hash_api_key(key)
    assert stored.name == "ci"
    assert stored.expires_at is None


def test_keys_create_with_expiry_sets_the_expiry(
    capsys: pytest.CaptureFixture[str], tenant_name: str, engine: Engine
) -> None:
    slug = _run(capsys, "tenants", "create", tenant_name).strip()
    key = _run(capsys, "keys", "create", "--tenant", slug, "--expires-in", "30d")
    expires_at = _stored_key(engine, key_prefix(key.strip())).expires_at
    assert expires_at is not None
    expected = datetime.now(UTC) + timedelta(days=30)
    assert abs(expires_at - expected) < timedelta(minutes=1)


def test_keys_list_shows_prefixes_and_never_a_hash_or_key(
    capsys: pytest.CaptureFixture[str], tenant_name: str, engine: Engine
) -> None:
    slug = _run(capsys, "tenants", "create", tenant_name).strip()
    key = _run(capsys, "keys", "create", "--tenant", slug, "--name", "laptop").strip()
    listing = _run(capsys, "keys", "list", "--tenant", slug)
    lines = listing.splitlines()
    assert lines[0].split() == ["PREFIX", "NAME", "CREATED", "EXPIRES", "REVOKED"]
    assert lines[1].startswith(key_prefix(key))
    assert "laptop" in lines[1]
    assert "never" in lines[1]
    assert key not in listing
    assert _stored_key(engine, key_prefix(key)).key_hash not in listing


def test_revoking_a_key_marks_it_and_twice_is_harmless(
    capsys: pytest.CaptureFixture[str], tenant_name: str, engine: Engine
) -> None:
    slug = _run(capsys, "tenants", "create", tenant_name).strip()
    prefix = key_prefix(_run(capsys, "keys", "create", "--tenant", slug).strip())
    assert _run(capsys, "keys", "revoke", prefix).startswith(f"revoked {prefix} at ")
    first = _stored_key(engine, prefix).revoked_at
    assert first is not None
    _run(capsys, "keys", "revoke", prefix)
    assert _stored_key(engine, prefix).revoked_at == first
    row = _run(capsys, "keys", "list", "--tenant", slug).splitlines()[1]
    assert row.rstrip().endswith("UTC")  # the REVOKED column is filled


def test_unknown_tenant_or_prefix_is_exit_1_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["keys", "create", "--tenant", "no-such-tenant"]) == FAILED
    assert capsys.readouterr() == ("", "helixq: tenant 'no-such-tenant' not found\n")
    assert main(["keys", "revoke", "hqk_00000000"]) == FAILED
    err = capsys.readouterr().err
    assert err == "helixq: no API key with prefix 'hqk_00000000'\n"


def test_an_unreachable_database_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert main(["tenants", "list"]) == FAILED
    err = capsys.readouterr().err
    assert err.startswith("helixq: database error: ")
    assert err.count("\n") == 1


def test_migrate_on_a_current_database_is_a_no_op() -> None:
    assert main(["migrate"]) == 0


def test_cli_tenant_and_key_commands_write_the_audit_trail(
    capsys: pytest.CaptureFixture[str], tenant_name: str, engine: Engine
) -> None:
    slug = _run(capsys, "tenants", "create", tenant_name).strip()
    key = _run(capsys, "keys", "create", "--tenant", slug).strip()
    prefix = key_prefix(key)
    _run(capsys, "keys", "revoke", prefix)
    with Session(engine) as session:
        entries = session.scalars(
            select(AuditEvent).where(AuditEvent.tenant == slug).order_by(AuditEvent.id)
        ).all()
    assert [(e.actor, e.source, e.action, e.target) for e in entries] == [
        ("admin", "cli", "tenant.create", f"tenant:{slug}"),
        ("admin", "cli", "key.create", f"key:{prefix}"),
        ("admin", "cli", "key.revoke", f"key:{prefix}"),
    ]
    revoke = entries[-1]
    assert revoke.before is not None
    assert revoke.before["revoked_at"] is None
    assert revoke.after is not None
    assert revoke.after["revoked_at"] is not None
    assert key not in str([(e.before, e.after) for e in entries])
