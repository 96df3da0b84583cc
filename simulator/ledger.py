"""The ledger: USD spent per UTC day, for /key usage and the credits pre-flight."""

from datetime import date, timedelta
from decimal import Decimal


class Ledger:
    """Exact spend since the last reset, kept per UTC day, and credits added."""

    def __init__(self) -> None:
        self._by_day: dict[date, Decimal] = {}
        self.total = Decimal(0)
        self.credits_added = Decimal(0)  # on top of HELIXQ_SIM_CREDITS_USD

    def add_credits(self, amount_usd: Decimal) -> None:
        """Buy credits, as a user does after a 402."""
        self.credits_added += amount_usd

    def charge(self, cost_usd: Decimal, day: date) -> None:
        """Add a served generation's cost."""
        self._by_day[day] = self._by_day.get(day, Decimal(0)) + cost_usd
        self.total += cost_usd

    def since(self, first_day: date) -> Decimal:
        """Sum the spend from a UTC day on."""
        return sum(
            (spent for day, spent in self._by_day.items() if day >= first_day),
            Decimal(0),
        )

    def periods(self, today: date) -> dict[str, Decimal]:
        """Spend for today, this ISO week and this month, as /key reports them."""
        return {
            "daily": self.since(today),
            "weekly": self.since(today - timedelta(days=today.weekday())),
            "monthly": self.since(today.replace(day=1)),
        }
