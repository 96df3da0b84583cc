"""Domain errors. Each knows its machine-readable code and nothing about HTTP.

BrokerError
├── NotFound
│   ├── JobNotFound
│   ├── BatchNotFound
│   └── TenantNotFound
├── Unauthenticated          missing, unknown, revoked or expired API key
├── Forbidden                a valid credential that may not do this
├── Conflict
│   ├── TenantExists
│   └── BatchNotCancellable
├── UnsupportedMediaType     a body in a content type the endpoint does not take
├── InvalidRequest           well-formed but unacceptable input (with field details)
│   └── IdempotencyKeyReused  the same Idempotency-Key with a different body
└── SettingsError            a bad environment value; stops the process at start
"""

from typing import ClassVar
from uuid import UUID


class BrokerError(Exception):
    """Base for every error this system raises on purpose."""

    code: ClassVar[str] = "broker_error"

    def __init__(self, message: str, *, details: dict[str, object] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(BrokerError):
    code = "not_found"


class JobNotFound(NotFound):
    code = "job_not_found"

    def __init__(self, job_id: UUID | str) -> None:
        super().__init__(f"job {job_id} not found", details={"job_id": str(job_id)})
        self.job_id = job_id


class BatchNotFound(NotFound):
    code = "batch_not_found"

    def __init__(self, batch_id: UUID | str) -> None:
        super().__init__(
            f"batch {batch_id} not found", details={"batch_id": str(batch_id)}
        )


class TenantNotFound(NotFound):
    code = "tenant_not_found"

    def __init__(self, slug: str) -> None:
        super().__init__(f"tenant {slug!r} not found", details={"tenant": slug})
        self.slug = slug


class Unauthenticated(BrokerError):
    code = "invalid_api_key"


class Forbidden(BrokerError):
    code = "forbidden"


class Conflict(BrokerError):
    code = "conflict"


class TenantExists(Conflict):
    code = "tenant_exists"

    def __init__(self, slug: str) -> None:
        super().__init__(f"tenant {slug!r} already exists", details={"tenant": slug})


class BatchNotCancellable(Conflict):
    code = "batch_not_cancellable"

    def __init__(self, batch_id: UUID, status: str) -> None:
        super().__init__(
            f"batch {batch_id} is already {status} and cannot be cancelled",
            details={"batch_id": str(batch_id), "status": status},
        )


class UnsupportedMediaType(BrokerError):
    code = "unsupported_media_type"

    def __init__(self, given: str, accepted: list[str]) -> None:
        super().__init__(
            f"content type {given or '(none)'!r} is not accepted here; "
            f"send one of {', '.join(accepted)}",
            details={"accepted": accepted},
        )


class InvalidRequest(BrokerError):
    code = "invalid_request"


class IdempotencyKeyReused(InvalidRequest):
    code = "idempotency_key_reused"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used with a different request body",
            details={"idempotency_key": key},
        )


class SettingsError(BrokerError):
    code = "invalid_settings"
