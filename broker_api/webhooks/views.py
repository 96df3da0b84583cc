"""What the API answers about webhook deliveries and the tenant's endpoint."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.db.models import WebhookDelivery
from shared.redaction import RedactedJson
from shared.webhooks.signing import message_id


class EndpointUpdate(BaseModel):
    """The tenant's default webhook URL; null removes it."""

    url: str | None = Field(default=None, max_length=2048)


class EndpointView(BaseModel):
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str | None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None


class AttemptLogView(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryView(BaseModel):
    id: UUID
    object: Literal["webhook_delivery"] = "webhook_delivery"
    webhook_id: str  # the `webhook-id` header: the same on every try and replay
    event_type: str
    resource_id: UUID
    url: str
    status: str
    attempt_count: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryDetailView(DeliveryView):
    payload: RedactedJson
    attempts: list[AttemptLogView]


class DeliveryList(BaseModel):
    object: Literal["list"] = "list"
    data: list[DeliveryView]
    has_more: bool
    next_cursor: str | None  # pass as `cursor` for the next page


def delivery_view(delivery: WebhookDelivery) -> DeliveryView:
    return DeliveryView(
        id=delivery.id,
        webhook_id=message_id(delivery.id),
        event_type=delivery.event_type,
        resource_id=delivery.resource_id,
        url=delivery.url,
        status=delivery.status,
        attempt_count=delivery.attempt_count,
        next_attempt_at=delivery.next_attempt_at,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
    )


def delivery_detail_view(delivery: WebhookDelivery) -> DeliveryDetailView:
    return DeliveryDetailView(
        **delivery_view(delivery).model_dump(),
        payload=delivery.payload,
        attempts=[AttemptLogView(**entry) for entry in delivery.attempts_log],
    )
