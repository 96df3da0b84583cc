"""Limits on real Postgres and Redis: the worker and API fixtures of those layers."""

from tests.integration.api.conftest import (  # noqa: F401  (fixtures)
    anyio_backend,
    api,
    api_settings,
    enqueuer,
)
from tests.integration.api.conftest import tenant as api_tenant  # noqa: F401
from tests.integration.workers.conftest import (  # noqa: F401  (fixtures)
    deliveries,
    make_context,
    make_job,
    make_tenant,
    openrouter_mock,
    priced_model,
    sender,
    tenant,
    worker_settings,
)
