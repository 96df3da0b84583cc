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

from decimal import Decimal, InvalidOperation

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
    value = usage.get("cost")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(str(value))  # str() keeps the decimal digits JSON carried
    except InvalidOperation:
        return None


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
