"""The in-process API of the api layer, reused by the hardening tests."""

from tests.integration.api.conftest import (  # noqa: F401  (fixtures, by name)
    anyio_backend,
    api,
    api_settings,
    enqueuer,
    other_tenant,
    tenant,
)
