"""HTTP for webhooks: the delivery log, replay and the tenant's default URL."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status

from broker_api.deps import CallerDep, EnqueuerDep, SessionDep, SettingsDep
from broker_api.ids import parse_id
from broker_api.webhooks import service
from broker_api.webhooks.views import (
    DeliveryDetailView,
    DeliveryList,
    EndpointUpdate,
    EndpointView,
)
from shared.webhooks.addresses import Resolver, system_resolver
from shared.webhooks.errors import DeliveryNotFound
from shared.webhooks.outbox import DeliveryStatus

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def get_resolver() -> Resolver:
    """The DNS resolver the SSRF check uses (tests override this dependency)."""
    return system_resolver


ResolverDep = Annotated[Resolver, Depends(get_resolver)]


def _parse_id(delivery_id: str) -> UUID:
    return parse_id(delivery_id, DeliveryNotFound)


@router.get("/deliveries")
async def list_deliveries(
    session: SessionDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
) -> DeliveryList:
    """The tenant's webhook deliveries, newest first; page with `cursor`."""
    return await service.list_deliveries(
        session, caller, limit=limit, cursor=cursor, status=delivery_status
    )


@router.get("/deliveries/{delivery_id}")
async def get_delivery(
    delivery_id: str, session: SessionDep, caller: CallerDep
) -> DeliveryDetailView:
    """One delivery with its payload and the log of its tries."""
    return await service.read_delivery(session, caller, _parse_id(delivery_id))


@router.post("/deliveries/{delivery_id}/replay", status_code=status.HTTP_202_ACCEPTED)
async def replay_delivery(
    delivery_id: str,
    session: SessionDep,
    caller: CallerDep,
    enqueuer: EnqueuerDep,
) -> DeliveryDetailView:
    """Send the delivery again now, with the same webhook-id."""
    return await service.replay_delivery(
        session, enqueuer, caller, _parse_id(delivery_id)
    )


@router.get("/endpoint")
async def get_endpoint(session: SessionDep, caller: CallerDep) -> EndpointView:
    """The tenant's default webhook URL and whether it is disabled."""
    return await service.read_endpoint(session, caller)


@router.put("/endpoint")
async def put_endpoint(
    body: EndpointUpdate,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    resolve: ResolverDep,
) -> EndpointView:
    """Set the default URL of jobs and batches without their own (null removes it)."""
    if body.url is not None:
        await service.check_webhook_url(
            body.url,
            allow_private=settings.helixq_webhook_allow_private,
            resolve=resolve,
        )
    return await service.set_endpoint(session, caller, body.url)
