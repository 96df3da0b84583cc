"""What can go wrong when calling OpenRouter, split by whether a retry can help.

BrokerError (shared.errors)
└── UpstreamError                       code, message, http_status, retry_after_s,
    │                                   cost_usd
    ├── UpstreamUnavailable             retryable: the same call may succeed later
    │   │                               (500, 502, 503, 529, connection errors)
    │   ├── UpstreamRateLimited         429
    │   ├── UpstreamTimeout             408, 524, our own timeout
    │   │   └── UpstreamFirstTokenTimeout   a stream sent no chunk in time
    │   └── UpstreamBadResponse         a body we cannot read (not JSON, not an object)
    └── UpstreamRejected                permanent: retrying the same call cannot help
        ├── UpstreamBadRequest          400, 413, 422
        ├── UpstreamContextLength       400 whose message says the prompt is too long
        ├── UpstreamUnauthorized        401
        ├── UpstreamPaymentRequired     402
        ├── UpstreamForbidden           403 (moderation, guardrails, permissions)
        ├── UpstreamBudgetExhausted     402/403 on a tenant's provisioned key: its
        │                               credit limit (the budget) is spent
        ├── UpstreamModelNotFound       404, or 400 "is not a valid model ID"
        └── UpstreamStreamBroken        a stream failed after chunks reached the
                                        client: no other candidate can take over

Messages carry OpenRouter's own words and never the API key.
"""

from decimal import Decimal

from shared.errors import BrokerError
from workers.openrouter.schemas import Completion


class UpstreamError(BrokerError):
    """A call to OpenRouter that did not produce a completion."""

    code = "upstream_error"
    is_retryable = False

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        retry_after_s: float | None = None,
        cost_usd: Decimal | None = None,
    ) -> None:
        super().__init__(message, details={"http_status": http_status})
        self.http_status = http_status
        self.retry_after_s = retry_after_s
        self.cost_usd = cost_usd


class UpstreamUnavailable(UpstreamError):
    code = "upstream_unavailable"
    is_retryable = True


class UpstreamRateLimited(UpstreamUnavailable):
    code = "upstream_rate_limited"


class UpstreamTimeout(UpstreamUnavailable):
    code = "upstream_timeout"


class UpstreamFirstTokenTimeout(UpstreamTimeout):
    code = "upstream_first_token_timeout"


class UpstreamBadResponse(UpstreamUnavailable):
    code = "upstream_bad_response"


class UpstreamRejected(UpstreamError):
    code = "upstream_rejected"


class UpstreamBadRequest(UpstreamRejected):
    code = "upstream_bad_request"


class UpstreamContextLength(UpstreamRejected):
    code = "upstream_context_length"


class UpstreamUnauthorized(UpstreamRejected):
    code = "upstream_unauthorized"


class UpstreamPaymentRequired(UpstreamRejected):
    code = "upstream_payment_required"


class UpstreamForbidden(UpstreamRejected):
    code = "upstream_forbidden"


class UpstreamBudgetExhausted(UpstreamRejected):
    """The tenant's provisioned key is at its credit limit (its budget)."""

    code = "budget_exceeded"


class UpstreamModelNotFound(UpstreamRejected):
    code = "upstream_model_not_found"


class UpstreamStreamBroken(UpstreamRejected):
    """A stream that failed once its first chunks were relayed: the client has
    seen them, so neither another candidate nor a retry may start over. `partial`
    is what arrived; `cause` the error that ended it."""

    code = "upstream_stream_error"

    def __init__(self, cause: UpstreamError, partial: Completion) -> None:
        super().__init__(
            f"the stream broke after part of the answer was sent: {cause.message}",
            http_status=cause.http_status,
            cost_usd=cause.cost_usd if cause.cost_usd is not None else partial.cost_usd,
        )
        self.cause = cause
        self.partial = partial
