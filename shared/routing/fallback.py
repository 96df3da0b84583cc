"""Which failures another model can fix, by the worker's error codes.

Another model helps when the failure belongs to the model or its providers:
rate limits (429), outages and bad gateways (5xx), timeouts, a body we could not
read, a model that is unknown or withdrawn, and a prompt too long for this
model's context. It does not help when the failure belongs to the account or the
request: a bad key (401), no credits (402), a refusal or moderation (403), or an
invalid request (400/413/422), which every model would refuse the same way.
"""

FIXABLE_CODES = frozenset(
    {
        "upstream_rate_limited",
        "upstream_unavailable",
        "upstream_timeout",
        "upstream_first_token_timeout",
        "upstream_bad_response",
        "upstream_model_not_found",
        "upstream_context_length",
    }
)
UNFIXABLE_CODES = frozenset(
    {
        "upstream_unauthorized",
        "upstream_payment_required",
        "upstream_bad_request",
        "upstream_forbidden",
        # A tenant's provisioned key at its credit limit refuses every model alike.
        "budget_exceeded",
        # Part of the answer reached the client: nobody else may start over.
        "upstream_stream_error",
    }
)
CONTEXT_LENGTH_CODE = "upstream_context_length"
_FIXABLE_STATUSES = frozenset({404, 408, 429})


def is_fixable_by_another_model(
    error_code: str | None, http_status: int | None = None
) -> bool:
    """True when trying a different model may succeed where this one failed.

    The machine-readable code decides; an unknown code falls back to the HTTP
    status (408, 429, 404 and 5xx yes, other 4xx no), and with neither, yes:
    a connection error is the likeliest cause.
    """
    if error_code in FIXABLE_CODES:
        return True
    if error_code in UNFIXABLE_CODES:
        return False
    if http_status is None:
        return True
    return http_status in _FIXABLE_STATUSES or http_status >= 500
