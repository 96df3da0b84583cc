import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from helixq.bootstrap import DEMO_TENANT, ensure_demo_key, prepare_database
from shared.api_keys import key_prefix
from shared.db.models import ApiKey, AuditEvent, CatalogModel, Tenant
from shared.errors import SettingsError
from shared.routing.catalog import ModelInfo
from shared.sealing import SecretBox
from shared.settings import TenantSeed, TenantSeedSettings
from shared.strategies import ModelSubstitution
from shared.tenancy import (
    find_tenant,
    is_active_key,
    revoke_api_key,
    upsert_tenant_seeds,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_the_demo_key_is_created_once_and_then_reused(
    db_session: Session, tmp_path: Path
) -> None:
    key_file = tmp_path / "demo-api-key"
    assert ensure_demo_key(db_session, key_file, now=NOW) is True
    key = key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert ensure_demo_key(db_session, key_file, now=NOW) is False
    assert key_file.read_text().strip() == key
    demo = find_tenant(db_session, DEMO_TENANT)
    assert is_active_key(db_session, demo, key, now=NOW)


def test_a_revoked_or_foreign_demo_key_is_replaced(
    db_session: Session, tmp_path: Path
) -> None:
    key_file = tmp_path / "demo-api-key"
    ensure_demo_key(db_session, key_file, now=NOW)
    old = key_file.read_text().strip()
    revoke_api_key(db_session, key_prefix(old), now=NOW)
    assert ensure_demo_key(db_session, key_file, now=NOW) is True
    assert key_file.read_text().strip() != old
    key_file.write_text("hqk_from_another_database_entirely_0000\n")
    assert ensure_demo_key(db_session, key_file, now=NOW) is True


def test_an_expired_or_altered_key_is_not_active(
    db_session: Session, tmp_path: Path
) -> None:
    key_file = tmp_path / "demo-api-key"
    ensure_demo_key(db_session, key_file, now=NOW)
    key = key_file.read_text().strip()
    demo = find_tenant(db_session, DEMO_TENANT)
    altered = key[:-1] + ("a" if key[-1] != "a" else "b")
    assert not is_active_key(db_session, demo, altered, now=NOW)
    stored = db_session.scalar(select(ApiKey).where(ApiKey.prefix == key_prefix(key)))
    assert stored is not None
    stored.expires_at = NOW - timedelta(seconds=1)
    assert not is_active_key(db_session, demo, key, now=NOW)


@pytest.fixture
def seeded_name(engine: Engine) -> Iterator[str]:
    """A tenant name for a seed; prepare_database commits, so clean up after."""
    name = f"seeded-{uuid4().hex[:8]}"
    yield name
    with engine.begin() as connection:
        slugs = (name, DEMO_TENANT)
        connection.execute(delete(Tenant).where(Tenant.slug.in_(slugs)))


def test_prepare_database_seeds_tenants_and_keeps_one_demo_key(
    database_url: str, seeded_name: str, tmp_path: Path, engine: Engine
) -> None:
    key_file = tmp_path / "demo-api-key"
    seeds = [
        TenantSeed(
            number=1,
            name=seeded_name,
            default_model="openai/gpt-4o",
            model_substitution=ModelSubstitution.ON_FAILURE,
        )
    ]
    prepare_database(database_url, seeds=seeds, demo_key_file=key_file)
    key = key_file.read_text().strip()
    prepare_database(database_url, seeds=seeds, demo_key_file=key_file)
    assert key_file.read_text().strip() == key
    with Session(engine) as session:
        seeded = find_tenant(session, seeded_name)
        assert seeded.default_model == "openai/gpt-4o"
        assert seeded.model_substitution == "on_failure"
        demo = find_tenant(session, DEMO_TENANT)
        assert is_active_key(session, demo, key, now=datetime.now(UTC))
        keys = session.scalars(select(ApiKey).where(ApiKey.tenant_id == demo.id))
        assert len(list(keys)) == 1


def test_an_unknown_tenant_default_model_stops_start_up_and_writes_nothing(
    database_url: str,
    seeded_name: str,
    listed_model: str,
    tmp_path: Path,
    engine: Engine,
) -> None:
    typo = listed_model.replace("steady", "stedy")
    seeds = [TenantSeed(number=4, name=seeded_name, default_model=typo)]
    with pytest.raises(SettingsError) as caught:
        prepare_database(database_url, seeds=seeds, demo_key_file=tmp_path / "key")
    assert caught.value.message == (
        f"invalid OPENROUTER_TENANT_4_DEFAULT_MODEL={typo!r}: not in the model "
        f"catalog (did you mean {listed_model!r}?)"
    )
    with Session(engine) as session:
        seeded = session.scalar(select(Tenant).where(Tenant.slug == seeded_name))
        assert seeded is None
    assert not (tmp_path / "key").exists()


def test_an_unknown_deployment_default_model_stops_start_up(
    database_url: str, listed_model: str, tmp_path: Path
) -> None:
    with pytest.raises(SettingsError) as caught:
        prepare_database(
            database_url,
            seeds=[],
            demo_key_file=tmp_path / "key",
            default_model="nosuch/model",
        )
    assert caught.value.message.startswith(
        "invalid OPENROUTER_DEFAULT_MODEL='nosuch/model': not in the model catalog"
    )
    assert not (tmp_path / "key").exists()


@pytest.fixture
def simulator_model(engine: Engine) -> Iterator[ModelInfo]:
    """A model the (stand-in) simulator lists; removed from the catalog after."""
    model = ModelInfo(
        id=f"sim-{uuid4().hex[:8]}/listed",
        name="Listed by the simulator",
        context_length=8_000,
        max_completion_tokens=1_000,
        prompt_price=Decimal("0.000001"),
        completion_price=Decimal("0.000002"),
    )
    yield model
    with engine.begin() as connection:
        connection.execute(delete(CatalogModel).where(CatalogModel.id == model.id))


def test_a_simulated_stack_knows_the_simulator_catalog_before_the_first_sync(
    database_url: str,
    seeded_name: str,
    simulator_model: ModelInfo,
    tmp_path: Path,
    engine: Engine,
) -> None:
    seeds = [TenantSeed(number=1, name=seeded_name, default_model=simulator_model.id)]
    prepare_database(
        database_url,
        seeds=seeds,
        demo_key_file=tmp_path / "key",
        catalog=[simulator_model],
    )
    with Session(engine) as session:
        row = session.get(CatalogModel, simulator_model.id)
        assert row is not None
        assert row.is_listed
        assert find_tenant(session, seeded_name).default_model == simulator_model.id


def test_a_seed_name_without_letters_is_named_by_its_variable(
    db_session: Session,
) -> None:
    seeds = [TenantSeed(number=3, name="!!!")]
    with pytest.raises(SettingsError) as caught:
        upsert_tenant_seeds(db_session, seeds)
    assert caught.value.message.startswith("invalid OPENROUTER_TENANT_3_NAME='!!!': ")


def test_a_seed_key_that_starts_like_another_is_named_by_its_variable(
    db_session: Session,
) -> None:
    first = f"hqk_same_start_{uuid4().hex}"
    second = first[:12] + "-but-another-key-entirely"
    seeds = [
        TenantSeed(number=1, name=f"one-{uuid4().hex[:8]}", client_key=first),
        TenantSeed(number=2, name=f"two-{uuid4().hex[:8]}", client_key=second),
    ]
    with pytest.raises(SettingsError) as caught:
        upsert_tenant_seeds(db_session, seeds)
    message = caught.value.message
    assert message.startswith("invalid HELIXQ_TENANT_2_CLIENT_KEY: ")
    assert first[:12] not in message


def test_a_seed_allow_list_is_stored_and_an_empty_one_named_by_its_variable(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"allow-{uuid4().hex[:8]}"
    monkeypatch.setenv("OPENROUTER_TENANT_4_NAME", name)
    monkeypatch.setenv(
        "OPENROUTER_TENANT_4_ALLOWED_MODELS",
        "openrouter/openai/gpt-4o-mini, anthropic/claude-3.5-sonnet",
    )
    [seed] = [s for s in TenantSeedSettings().tenants if s.number == 4]
    [tenant] = upsert_tenant_seeds(db_session, [seed])
    assert tenant.allowed_models == [
        "openai/gpt-4o-mini",
        "anthropic/claude-3.5-sonnet",
    ]
    empty = TenantSeed(number=5, name=f"empty-{uuid4().hex[:8]}", allowed_models=" , ")
    with pytest.raises(SettingsError) as caught:
        upsert_tenant_seeds(db_session, [empty])
    assert caught.value.message.startswith(
        "invalid OPENROUTER_TENANT_5_ALLOWED_MODELS: "
    )


def test_tenants_and_keys_from_the_environment_are_in_the_audit_trail(
    db_session: Session, tmp_path: Path
) -> None:
    name = f"seeded-{uuid4().hex[:8]}"
    key = f"hqk_seeded_{uuid4().hex}"
    [tenant] = upsert_tenant_seeds(
        db_session, [TenantSeed(number=6, name=name, client_key=key)]
    )
    upsert_tenant_seeds(db_session, [TenantSeed(number=6, name=name, client_key=key)])
    ensure_demo_key(db_session, tmp_path / "demo-api-key", now=NOW)
    db_session.flush()
    seeded = db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.tenant == tenant.slug)
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.actor, e.source, e.action) for e in seeded] == [
        ("admin", "environment", "tenant.create"),
        ("admin", "environment", "key.create"),
    ]  # once: a second start changes nothing
    assert key not in str([(e.before, e.after) for e in seeded])
    demo = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.tenant == DEMO_TENANT)
    ).all()
    assert "key.create" in demo


def test_a_seed_openrouter_key_is_sealed_apart_from_its_client_key(
    db_session: Session,
) -> None:
    box = SecretBox("the sealing key of this bootstrap test and long enough")
    openrouter_key = "sk-or-v1-" + uuid4().hex + uuid4().hex
    client_key = f"hqk_seeded_{uuid4().hex}"
    seed = TenantSeed(
        number=1,
        name=f"byok-{uuid4().hex[:8]}",
        api_key=openrouter_key,
        client_key=client_key,
    )
    (tenant,) = upsert_tenant_seeds(db_session, [seed], box=box)
    assert box.open(tenant.openrouter_key_sealed or "") == openrouter_key
    assert tenant.openrouter_key_hint == f"sk-or-v1-...{openrouter_key[-4:]}"
    now = datetime.now(UTC)
    assert is_active_key(db_session, tenant, client_key, now=now)
    # The OpenRouter key is never a key clients may send to helixq.
    assert not is_active_key(db_session, tenant, openrouter_key, now=now)
    set_at = tenant.openrouter_key_set_at
    upsert_tenant_seeds(db_session, [seed], box=box)  # the next start: unchanged
    assert tenant.openrouter_key_set_at == set_at


def test_a_seed_openrouter_key_without_a_secret_key_writes_nothing(
    db_session: Session,
) -> None:
    name = f"byok-{uuid4().hex[:8]}"
    seed = TenantSeed(number=4, name=name, api_key="sk-or-v1-" + uuid4().hex)
    with pytest.raises(SettingsError) as caught:
        upsert_tenant_seeds(db_session, [seed])
    assert caught.value.message.endswith("; OPENROUTER_TENANT_4_API_KEY needs it")
    assert db_session.scalar(select(Tenant).where(Tenant.slug == name)) is None
