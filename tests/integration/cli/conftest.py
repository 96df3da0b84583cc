from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import Engine, delete

from shared.db.models import Tenant
from tests.services import Services


@pytest.fixture
def cli_database(
    services: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> str:
    """DATABASE_URL for `main([...])`: the migrated test database."""
    monkeypatch.chdir(tmp_path)  # no stray .env or .helixq/stack.env
    monkeypatch.setenv("DATABASE_URL", services.database_url)
    return services.database_url


@pytest.fixture
def tenant_name(engine: Engine) -> Iterator[str]:
    """A unique tenant name; the CLI commits, so the tenant is deleted afterwards."""
    name = f"Acme {uuid4().hex[:8]}"
    yield name
    slug = name.lower().replace(" ", "-")
    with engine.begin() as connection:
        connection.execute(delete(Tenant).where(Tenant.slug == slug))


@pytest.fixture
def database_url(services: Services) -> str:
    return services.database_url
