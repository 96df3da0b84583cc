"""What a job costs: the estimate before a call, the cost OpenRouter reports after
it, and the rules of the ledger that adds them up.

The ledger is Postgres's `attempts` table: every upstream call has its row, written
before the call is made (workers.jobs.transitions), so a call whose worker dies is
still accounted for. The cost OpenRouter reports (`usage.cost`, USD) lands on the
call's row whatever the outcome: a failed call that was billed counts. A job's
cost is the sum of its attempts' costs, fallbacks and failures included, written
when the job ends. A tenant's monthly budget reserves the estimate of a job's
first call before it runs and settles with what its calls reported when it ends
(shared.budget). Amounts are Decimal from end to end: prices and costs arrive as
decimal text and never pass through a float.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from shared.jobs import CostSource
from shared.routing.catalog import ModelInfo

# The job's cost, in the statement that ends it. A statement does not see what its
# own CTE writes, so the attempt it records now is taken from the parameters
# (`cost_usd`, `attempt_id`), and every other attempt of the job from the table.
LEDGER_COST_SQL = """(SELECT sum(cost) FROM (
    SELECT cost_usd FROM attempts
    WHERE job_id = %(job_id)s AND id <> %(attempt_id)s
    UNION ALL SELECT CAST(%(cost_usd)s AS numeric)) AS ledger (cost))"""


def estimated_cost_usd(
    model: ModelInfo, *, prompt_tokens: int, completion_tokens: int
) -> Decimal | None:
    """What one call would cost at list price; None when the price is variable."""
    if model.is_variable_price:
        return None
    return (
        model.prompt_price * prompt_tokens
        + model.completion_price * completion_tokens
        + model.request_price
    )


def budget_estimate_usd(
    model: ModelInfo | None, *, prompt_tokens: int, completion_tokens: int
) -> Decimal:
    """What a budget reserves for a call: its list price, or nothing for a model
    the catalog does not know or cannot price (the budget ledger then still needs
    room for the smallest amount, and settles with the reported cost)."""
    if model is None:
        return Decimal(0)
    cost = estimated_cost_usd(
        model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )
    return cost or Decimal(0)


def reported_cost_usd(usage: object) -> Decimal | None:
    """The cost an answer's `usage` reports, exact; None when it reports none."""
    if not isinstance(usage, dict):
        return None
    return usd(usage.get("cost"))


def usd(value: object) -> Decimal | None:
    """A JSON number (or decimal text) of USD, exact; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value))  # str() keeps the decimal digits JSON carried
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


@dataclass(frozen=True, slots=True)
class UsageDetails:
    """What OpenRouter reports of a call beside its tokens and cost."""

    cached_tokens: int | None = None  # prompt tokens read from the provider's cache
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None  # counted inside completion_tokens
    is_byok: bool | None = None  # billed on the account's own provider key
    upstream_inference_cost: Decimal | None = None  # what the provider charged


NO_DETAILS = UsageDetails()


def usage_details(usage: object) -> UsageDetails:
    """The details of an answer's `usage` (chat completion or its last chunk)."""
    if not isinstance(usage, dict):
        return NO_DETAILS
    prompt = usage.get("prompt_tokens_details")
    completion = usage.get("completion_tokens_details")
    costs = usage.get("cost_details")
    prompt = prompt if isinstance(prompt, dict) else {}
    completion = completion if isinstance(completion, dict) else {}
    costs = costs if isinstance(costs, dict) else {}
    byok = usage.get("is_byok")
    return UsageDetails(
        cached_tokens=whole(prompt.get("cached_tokens")),
        cache_write_tokens=whole(prompt.get("cache_write_tokens")),
        reasoning_tokens=whole(completion.get("reasoning_tokens")),
        is_byok=byok if isinstance(byok, bool) else None,
        upstream_inference_cost=usd(costs.get("upstream_inference_cost")),
    )


def whole(value: object) -> int | None:
    """A JSON whole number, or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class LedgerCost:
    """An attempt's cost as the ledger holds it: the figure, where it comes from,
    and, unless OpenRouter reported it, why it is what it is."""

    usd: Decimal | None
    source: CostSource
    note: str | None = None


IN_FLIGHT_NOTE = (
    "no answer recorded: the call's reserved estimate (list price x the prompt"
    " estimate and max_tokens) until OpenRouter's figure replaces it"
)
NO_COST_NOTE = (
    "the answer reported no usage.cost: list price x the tokens it reported, until"
    " OpenRouter's figure replaces it"
)
REFUSED_NOTE = "OpenRouter answered an error status: nothing generated, nothing billed"
UNPRICED_NOTE = (
    "no cost reported and the model has no list price to estimate it with; the"
    " reconciler looks it up by generation id or in the account's activity"
)


def reserve_cost(reserve_usd: Decimal | None) -> LedgerCost:
    """The cost of a call in flight: its reserved estimate."""
    if reserve_usd is None:
        return LedgerCost(None, CostSource.UNKNOWN, UNPRICED_NOTE)
    return LedgerCost(reserve_usd, CostSource.ESTIMATED, IN_FLIGHT_NOTE)


def answered_cost(
    reported: Decimal | None,
    *,
    model: ModelInfo | None,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    reserve_usd: Decimal | None,
) -> LedgerCost:
    """The cost of a call that was answered (in full or in part): the reported
    cost, else list price x the tokens it reported, else the reserve."""
    if reported is not None:
        return LedgerCost(reported, CostSource.REPORTED)
    if model is not None and completion_tokens is not None:
        estimate = estimated_cost_usd(
            model,
            prompt_tokens=prompt_tokens or 0,
            completion_tokens=completion_tokens,
        )
        if estimate is not None:
            return LedgerCost(estimate, CostSource.ESTIMATED, NO_COST_NOTE)
    return reserve_cost(reserve_usd)


def failed_cost(
    reported: Decimal | None, *, http_status: int | None, reserve_usd: Decimal | None
) -> LedgerCost:
    """The cost of a failed call: what it reported; nothing for an error status
    (OpenRouter bills no refused request); else, with no answer or a stream that
    broke, the reserve (the call may have been billed)."""
    if reported is not None:
        return LedgerCost(reported, CostSource.REPORTED)
    if http_status is not None and http_status >= 400:
        return LedgerCost(Decimal(0), CostSource.UNBILLED, REFUSED_NOTE)
    return reserve_cost(reserve_usd)


LEDGER_QUANTUM = Decimal("1e-12")  # the ledger's Numeric(20, 12)


def apportion_usd(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `total` over lines in proportion to `weights` (each line's cost at
    batch prices), each share on the ledger's 1e-12 grid, summing to `total`
    exactly: the remainder of the rounding goes to the largest shares, a quantum
    each. Equal shares when every weight is zero."""
    if not weights:
        return []
    total = total.quantize(LEDGER_QUANTUM)
    weight_sum = sum(weights, Decimal(0))
    if weight_sum <= 0:
        weights, weight_sum = [Decimal(1)] * len(weights), Decimal(len(weights))
    raw = [total * weight / weight_sum for weight in weights]
    shares = [share.quantize(LEDGER_QUANTUM, rounding="ROUND_FLOOR") for share in raw]
    quanta = int((total - sum(shares, Decimal(0))) / LEDGER_QUANTUM)
    # Largest remainders first, so each share stays within a quantum of its part.
    order = sorted(range(len(raw)), key=lambda i: raw[i] - shares[i], reverse=True)
    for index in order[:quanta]:
        shares[index] += LEDGER_QUANTUM
    return shares
