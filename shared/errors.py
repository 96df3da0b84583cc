"""Domain errors. Each knows its machine-readable code and nothing about HTTP.

BrokerError
├── NotFound
│   ├── JobNotFound
│   ├── BatchNotFound
│   ├── FileNotFound         a missing, expired or deleted file (or another tenant's)
│   ├── TenantNotFound
│   └── KeyNotFound          no key of this tenant has that prefix
├── Unauthenticated          missing, unknown, revoked or expired API key
├── Forbidden                a valid credential that may not do this
│   ├── MetricsClosed        /metrics with neither a token nor an open setting
│   ├── ScopeMissing         a key without the scope the route needs (read-only)
│   └── ModelNotAllowed      a model outside the tenant's or the key's allow-list
├── Conflict
│   ├── JobNotStreamed        following the tokens of a job submitted without stream
│   ├── TenantExists
│   ├── KeyRevoked           rotating a key that was revoked
│   ├── SecretKeyNotSet      an OpenRouter key to seal, no HELIXQ_SECRET_KEY
│   └── BatchNotCancellable
│       └── NothingLeftToCancel  every item had ended: the batch ended instead
├── UnsupportedMediaType     a body in a content type the endpoint does not take
├── InvalidRequest           well-formed but unacceptable input (with field details)
│   ├── IdempotencyKeyReused  the same Idempotency-Key with a different body
│   ├── DiscountLaneRefused  lines of a `lane: discount` batch the Batch API cannot run
│   ├── InvalidJson          a body JSON cannot carry safely (NaN, depth, encoding)
│   │   ├── JsonTooDeep
│   │   ├── NotUtf8
│   │   └── NumberOutOfRange  a number no double holds, or an integer too long to read
│   ├── DateOutOfRange       a date whose period falls outside the years 1 to 9999
│   ├── InvalidUpload        a file upload that is not a well-formed form
│   ├── InvalidOpenRouterKey a tenant OpenRouter key not shaped like one
│   └── FileTooLarge         a file over the upload limit
├── TooManyAuthFailures      a source guessing API keys; retry after a pause
├── Unavailable              Postgres or Redis cannot be reached; retry later
├── QuotaExceeded            a tenant quota (shared.rate_limits.TenantLimits)
│   ├── SubmitRateLimited    submitting faster than the tenant's submit rate
│   ├── QueueFull            the tenant already has its most queued jobs
│   ├── KeyRateLimited       a key past its own requests per minute
│   └── BudgetExceeded       the tenant's budget of the period is spent
└── SettingsError            a bad environment value; stops the process at start
"""

from typing import ClassVar
from uuid import UUID

from shared.budget_periods import BudgetPeriod


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


class FileNotFound(NotFound):
    code = "file_not_found"

    def __init__(self, file_id: str) -> None:
        super().__init__(f"file {file_id} not found", details={"file_id": file_id})


class TenantNotFound(NotFound):
    code = "tenant_not_found"

    def __init__(self, slug: str) -> None:
        super().__init__(f"tenant {slug!r} not found", details={"tenant": slug})
        self.slug = slug


class KeyNotFound(NotFound):
    code = "key_not_found"

    def __init__(self, prefix: str) -> None:
        super().__init__(
            f"no API key of this tenant has the prefix {prefix!r}",
            details={"prefix": prefix},
        )


class Unauthenticated(BrokerError):
    code = "invalid_api_key"


class Forbidden(BrokerError):
    code = "forbidden"


class CallbackSignatureInvalid(Unauthenticated):
    code = "invalid_callback_signature"

    def __init__(self, reason: str) -> None:
        super().__init__(f"the Batch API callback is not signed as expected: {reason}")


class MetricsClosed(Forbidden):
    code = "metrics_closed"

    def __init__(self) -> None:
        super().__init__(
            "metrics are closed: set HELIXQ_METRICS_TOKEN and scrape with it as a "
            "bearer token (or HELIXQ_METRICS_OPEN=true on a trusted network)"
        )


class ScopeMissing(Forbidden):
    code = "insufficient_scope"

    def __init__(self, required: str, scopes: list[str]) -> None:
        super().__init__(
            f"this API key may not do this: it needs the {required!r} scope and has "
            f"{', '.join(repr(s) for s in scopes) or 'none'}",
            details={"required_scope": required, "scopes": scopes},
        )


class ModelNotAllowed(Forbidden):
    code = "model_not_allowed"

    def __init__(self, model: str, allowed: list[str]) -> None:
        super().__init__(
            f"model {model!r} is not allowed for this API key; allowed: "
            + ", ".join(allowed),
            details={"model": model, "allowed_models": allowed},
        )


class Conflict(BrokerError):
    code = "conflict"


class JobNotStreamed(Conflict):
    code = "job_not_streamed"

    def __init__(self, job_id: UUID | str) -> None:
        super().__init__(
            f'job {job_id} was not submitted with "stream": true, so it has no'
            f" tokens to follow; poll GET /v1/jobs/{job_id}?wait=60 instead",
            details={"job_id": str(job_id)},
        )
        self.job_id = job_id


class TenantExists(Conflict):
    code = "tenant_exists"

    def __init__(self, slug: str) -> None:
        super().__init__(f"tenant {slug!r} already exists", details={"tenant": slug})


class KeyRevoked(Conflict):
    code = "key_revoked"

    def __init__(self, prefix: str) -> None:
        super().__init__(
            f"API key {prefix!r} is revoked and cannot be rotated; create a new key",
            details={"prefix": prefix},
        )


class SecretKeyNotSet(Conflict):
    code = "secret_key_not_set"


class BatchNotCancellable(Conflict):
    code = "batch_not_cancellable"

    def __init__(
        self, batch_id: UUID, status: str, *, message: str | None = None
    ) -> None:
        super().__init__(
            message or f"batch {batch_id} is already {status} and cannot be cancelled",
            details={"batch_id": str(batch_id), "status": status},
        )


class NothingLeftToCancel(BatchNotCancellable):
    code = "batch_nothing_to_cancel"

    def __init__(self, batch_id: UUID, status: str) -> None:
        super().__init__(
            batch_id,
            status,
            message=f"batch {batch_id} had nothing left to cancel: every item had "
            f"already ended, so the batch is {status}",
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


class DiscountLaneRefused(InvalidRequest):
    """Lines of a batch that asked for the discount lane and cannot have it; the
    details list each line's number and reasons."""

    code = "discount_lane_refused"


class InvalidJson(InvalidRequest):
    code = "invalid_json"


class JsonTooDeep(InvalidJson):
    code = "json_too_deep"

    def __init__(self, max_depth: int) -> None:
        super().__init__(
            f"the JSON body nests deeper than {max_depth} levels",
            details={"max_depth": max_depth},
        )


class NotUtf8(InvalidJson):
    code = "invalid_utf8"

    def __init__(self, position: int) -> None:
        super().__init__(
            f"the body is not valid UTF-8 (first bad byte at {position})",
            details={"position": position},
        )


class NumberOutOfRange(InvalidJson):
    code = "number_out_of_range"

    def __init__(self, message: str, *, number: str) -> None:
        super().__init__(message, details={"number": number})


class DateOutOfRange(InvalidRequest):
    code = "date_out_of_range"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", details={"field": field})


class InvalidUpload(InvalidRequest):
    code = "invalid_upload"


class InvalidOpenRouterKey(InvalidRequest):
    code = "invalid_openrouter_key"


class FileTooLarge(InvalidRequest):
    code = "file_too_large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            f"the file is larger than {max_bytes} bytes, the most one upload takes",
            details={"max_bytes": max_bytes},
        )


class TooManyAuthFailures(BrokerError):
    code = "too_many_auth_failures"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            "too many failed authentications from this address; "
            f"retry in {retry_after_s} s",
            details={"retry_after_s": retry_after_s},
        )
        self.retry_after_s = retry_after_s


class Unavailable(BrokerError):
    code = "service_unavailable"

    def __init__(self, what: str, retry_after_s: int) -> None:
        super().__init__(
            f"{what} is unavailable; retry in {retry_after_s} s",
            details={"retry_after_s": retry_after_s},
        )
        self.retry_after_s = retry_after_s


class QuotaExceeded(BrokerError):
    code = "quota_exceeded"

    def __init__(
        self, message: str, *, retry_after_s: int | None, details: dict[str, object]
    ) -> None:
        super().__init__(message, details={**details, "retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s


class SubmitRateLimited(QuotaExceeded):
    code = "rate_limited"

    def __init__(self, per_s: float, retry_after_s: int) -> None:
        super().__init__(
            f"submitting faster than this tenant's {per_s:g} per second; "
            f"retry in {retry_after_s} s",
            retry_after_s=retry_after_s,
            details={"submit_per_s": per_s},
        )


class QueueFull(QuotaExceeded):
    code = "queue_full"

    def __init__(self, max_queued: int, retry_after_s: int) -> None:
        super().__init__(
            f"this tenant already has {max_queued} queued jobs, its most",
            retry_after_s=retry_after_s,
            details={"max_queued": max_queued},
        )


class KeyRateLimited(QuotaExceeded):
    code = "key_rate_limited"

    def __init__(self, per_minute: int, retry_after_s: int) -> None:
        super().__init__(
            f"this API key is limited to {per_minute} requests per minute; "
            f"retry in {retry_after_s} s",
            retry_after_s=retry_after_s,
            details={"requests_per_minute": per_minute},
        )


class BudgetExceeded(QuotaExceeded):
    code = "budget_exceeded"

    def __init__(
        self,
        budget_usd: str,
        spent_usd: str,
        *,
        period: BudgetPeriod = BudgetPeriod.MONTH,
    ) -> None:
        super().__init__(
            f"this tenant's {period.adjective} budget of ${budget_usd} is spent",
            retry_after_s=None,
            details={
                "monthly_budget_usd": budget_usd,
                "spent_usd": spent_usd,
                "budget_period": period.value,
            },
        )


class SettingsError(BrokerError):
    code = "invalid_settings"
