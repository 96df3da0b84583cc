"""Paying for batches: the ledger is charged once per batch, at batch prices.

A completed batch whose charge the credits cannot cover is locked: GET answers 402
with no results until credits are added, and it is charged then. The provider has
already done the work, so cancelled and expired batches are charged for the lines
finished, whatever the balance.
"""

from datetime import UTC, datetime
from decimal import Decimal

from simulator.batches.batch import Batch
from simulator.billing import available_credits
from simulator.errors import SimError
from simulator.state import SimulatorState

_NO_CREDITS = "Insufficient credits. Add more using https://openrouter.ai/credits"


def _available(state: SimulatorState) -> tuple[Decimal, str]:
    ledger = state.ledger
    return available_credits(state.settings, ledger.total, added=ledger.credits_added)


def check_submit_credits(state: SimulatorState) -> None:
    """Refuse a new batch (402) once nothing is left to spend."""
    available, source = _available(state)
    if available <= 0:
        raise SimError(402, _NO_CREDITS, metadata={"limit_source": source})


def _charge(batch: Batch, state: SimulatorState, at: float) -> None:
    cost = batch.usage.cost if batch.usage else Decimal(0)
    state.ledger.charge(
        cost, datetime.fromtimestamp(at, UTC).date(), model=batch.served.id
    )
    state.batches.billed_usd += cost


def bill(batch: Batch, state: SimulatorState, at: float, *, may_lock: bool) -> None:
    """Charge an ended batch's usage, or lock its results until credits cover it."""
    cost = batch.usage.cost if batch.usage else Decimal(0)
    if may_lock and cost > _available(state)[0]:
        batch.is_unpaid = True
        return
    _charge(batch, state, at)


def collect(batch: Batch, state: SimulatorState, now: float) -> bool:
    """Charge a locked batch if credits now cover it; say whether it is paid."""
    if not batch.is_unpaid:
        return True
    cost = batch.usage.cost if batch.usage else Decimal(0)
    if cost > _available(state)[0]:
        return False
    batch.is_unpaid = False
    _charge(batch, state, now)
    return True
