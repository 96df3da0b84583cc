"""A real WorkerProcess (tests.integration.workers) whose OpenRouter key is a canary."""

import pytest

from shared.settings import load_settings
from tests.integration.workers.conftest import (  # noqa: F401 (fixtures)
    BASE_URL,
    deliveries,
    make_job,
    make_tenant,
    openrouter_mock,
    sender,
    tenant,
    worker_process,
)
from workers.runtime.settings import WorkerSettings

OPENROUTER_KEY = "sk-or-v1-canaryOPENROUTERkey0123456789abcdef"
TENANT_KEY = "hqk_canary12_canaryTENANTkeyabcdefghijklmnopqrstuvwxyz"
WEBHOOK_SECRET = "whsec_Y2FuYXJ5V0VCSE9PS3NlY3JldDAxMjM0NTY3ODk="


@pytest.fixture
def worker_settings(services) -> WorkerSettings:
    """The workers' settings with the canary OpenRouter key and no retries."""
    return load_settings(
        WorkerSettings,
        database_url=services.database_url,
        redis_url=services.redis_url,
        openrouter_api_key=OPENROUTER_KEY,
        openrouter_base_url=BASE_URL,
        openrouter_max_retries=0,
        database_pool_size=2,
        database_max_overflow=2,
    )
