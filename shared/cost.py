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
