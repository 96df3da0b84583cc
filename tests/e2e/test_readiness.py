"""Right after the scheduler (re)starts, /readyz reads a fresh upstream check: the
first one runs at start, not one interval (a minute) later."""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import HELIXQ, Stack
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(120)

# Well inside the upstream check's interval (60 s): only a check run at start fits.
READY_WITHIN_S = 20.0


def _upstream_check(stack: Stack) -> dict[str, Any]:
    readiness: dict[str, Any] = httpx.get(f"{stack.api_url}/readyz", timeout=5).json()
    upstream: dict[str, Any] = readiness["checks"]["upstream"]
    return upstream


def test_readiness_has_an_upstream_check_right_after_beat_starts(
    stack: Stack,
) -> None:
    stack.processes.kill("beat")
    restarted_at = datetime.now(UTC)
    stack.start("beat", [HELIXQ, "beat"])

    def checked_since_restart() -> bool:
        upstream = _upstream_check(stack)
        checked_at = upstream.get("checked_at")
        return checked_at is not None and (
            datetime.fromisoformat(checked_at) >= restarted_at
        )

    wait_until(
        checked_since_restart,
        timeout_s=READY_WITHIN_S,
        what="an upstream check made after beat started",
    )
    upstream = _upstream_check(stack)
    assert (upstream["ok"], upstream["status"]) == (True, "ok")
    readiness = httpx.get(f"{stack.api_url}/readyz", timeout=5).json()
    assert readiness["status"] == "ready"
