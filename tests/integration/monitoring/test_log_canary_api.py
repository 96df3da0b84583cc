"""Canary credentials sent to the API never reach the logs."""

import pytest
from pydantic import SecretStr

from shared.logging_setup import LoggingSettings
from tests.factories import make_job_body
from tests.integration.api.conftest import ADMIN_TOKEN
from tests.integration.monitoring.log_capture import captured_logs

pytestmark = pytest.mark.anyio

BAD_KEY = "hqk_canary99_canaryBADkeyabcdefghijklmnopqrstuvwxyz0123"
BAD_ADMIN = "canary-admin-token-not-the-real-one-0123"


async def test_no_canary_in_logs_of_rejected_requests(api, tenant) -> None:
    settings = LoggingSettings(helixq_admin_token=SecretStr(ADMIN_TOKEN))
    with captured_logs(settings) as stream:
        bad = {"Authorization": f"Bearer {BAD_KEY}"}
        assert (
            await api.post("/v1/jobs", json=make_job_body(), headers=bad)
        ).status_code == 401
        assert (await api.get("/v1/usage", headers=bad)).status_code == 401
        wrong_admin = {"Authorization": f"Bearer {BAD_ADMIN}"}
        assert (await api.get("/admin/usage", headers=wrong_admin)).status_code == 401
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert (await api.get("/admin/usage", headers=admin)).status_code == 200
        assert (await api.get("/v1/usage", headers=tenant.headers)).status_code == 200
    text = stream.getvalue()
    for canary in (BAD_KEY, "canaryBADkey", BAD_ADMIN, ADMIN_TOKEN, tenant.key):
        assert canary not in text
