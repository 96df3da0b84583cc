"""Webhook errors, in the tree rooted in shared/errors.py.

BrokerError
├── NotFound
│   └── DeliveryNotFound
├── Conflict
│   └── DeliveryNotReplayable    in flight, or its endpoint is disabled
└── InvalidRequest
    ├── DestinationRefused       a URL or address the SSRF policy refuses
    │   └── HostUnresolved       no address now; a delivery retries later
    └── SignatureMismatch        a received webhook that does not verify
"""

from uuid import UUID

from shared.errors import Conflict, InvalidRequest, NotFound


class DeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"

    def __init__(self, delivery_id: UUID | str) -> None:
        super().__init__(
            f"webhook delivery {delivery_id} not found",
            details={"delivery_id": str(delivery_id)},
        )


class DeliveryNotReplayable(Conflict):
    code = "webhook_delivery_not_replayable"

    def __init__(self, delivery_id: UUID, reason: str) -> None:
        super().__init__(
            f"webhook delivery {delivery_id} cannot be replayed: {reason}",
            details={"delivery_id": str(delivery_id)},
        )


class DestinationRefused(InvalidRequest):
    """A webhook URL or address the policy refuses."""

    code = "webhook_url_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(f"webhook URL refused: {reason}", details={"field": "url"})


class HostUnresolved(DestinationRefused):
    """A host that resolves to nothing now; it may resolve later."""

    code = "webhook_host_unresolved"


class SignatureMismatch(InvalidRequest):
    """A webhook whose signature or timestamp does not verify."""

    code = "invalid_webhook_signature"
