"""`GET /metrics`: Prometheus text exposition, computed at scrape time."""

import hmac
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from broker_api.auth_throttle import client_address, throttle_of
from broker_api.deps import BearerDep, SessionDep, SettingsDep
from broker_api.metrics.collector import SnapshotCollector
from broker_api.metrics.snapshot import take_snapshot
from broker_api.settings import ApiSettings
from shared.errors import MetricsClosed, Unauthenticated

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", response_class=Response)
async def metrics(
    request: Request, session: SessionDep, settings: SettingsDep, credentials: BearerDep
) -> Response:
    """Queues, jobs, attempts, latency, cost, tokens, rate-limit waits, webhooks
    and health, summed over every API and worker process."""
    await _check_token(
        request, settings, None if credentials is None else credentials.credentials
    )
    snapshot = await take_snapshot(
        session, request.app.state.redis, now=datetime.now(UTC)
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def _check_token(
    request: Request, settings: ApiSettings, given: str | None
) -> None:
    token = settings.helixq_metrics_token
    if token is None:
        if settings.helixq_metrics_open:
            return  # an operator's choice for a trusted network (`helixq up`)
        raise MetricsClosed()
    if given is None:
        raise Unauthenticated("invalid metrics token")
    if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        await throttle_of(request).record_failure(client_address(request))
        raise Unauthenticated("invalid metrics token")
