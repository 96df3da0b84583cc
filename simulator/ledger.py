"""The ledger: what the account spent, per UTC day, per model and per key, for
`/credits`, `/activity`, each key's usage in `/key` and the credits pre-flight.

Every charge lands in all three views at once, so they always agree: the account's
total is the sum of its keys' usage and of its activity rows.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

UNKNOWN_MODEL = "unknown"


@dataclass
class ModelDay:
    """One model's spend and requests on one UTC day."""

    usage: Decimal = Decimal(0)
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass
class KeyAccount:
    """One key's spend, per UTC day."""

    total: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        self.by_day: dict[date, Decimal] = defaultdict(Decimal)

    def add(self, cost_usd: Decimal, day: date) -> None:
        self.by_day[day] += cost_usd
        self.total += cost_usd

    def since(self, first_day: date) -> Decimal:
        """Sum the spend from a UTC day on."""
        return sum(
            (spent for day, spent in self.by_day.items() if day >= first_day),
            Decimal(0),
        )

    def periods(self, today: date) -> dict[str, Decimal]:
        """Spend for today, this ISO week and this month, as /key reports them."""
        return {
            "daily": self.since(today),
            "weekly": self.since(today - timedelta(days=today.weekday())),
            "monthly": self.since(today.replace(day=1)),
        }


@dataclass(frozen=True, slots=True)
class Usage:
    """The tokens of one charge, for `/activity`."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0


class Ledger:
    """Exact spend since the last reset, and credits added."""

    def __init__(self) -> None:
        self.account = KeyAccount()  # every key together
        self.keys: dict[str, KeyAccount] = defaultdict(KeyAccount)
        self.activity: dict[tuple[date, str], ModelDay] = defaultdict(ModelDay)
        self.credits_added = Decimal(0)  # on top of HELIXQ_SIM_CREDITS_USD

    @property
    def total(self) -> Decimal:
        """The account's spend."""
        return self.account.total

    def add_credits(self, amount_usd: Decimal) -> None:
        """Buy credits, as a user does after a 402."""
        self.credits_added += amount_usd

    def charge(
        self,
        cost_usd: Decimal,
        day: date,
        *,
        model: str | None = None,
        key: str | None = None,
        usage: Usage | None = None,
    ) -> None:
        """Add a served generation's cost (to the key that paid, if known)."""
        self.account.add(cost_usd, day)
        if key is not None:
            self.keys[key].add(cost_usd, day)
        row = self.activity[(day, model or UNKNOWN_MODEL)]
        row.usage += cost_usd
        row.requests += 1
        if usage is not None:
            row.prompt_tokens += usage.prompt_tokens
            row.completion_tokens += usage.completion_tokens
            row.reasoning_tokens += usage.reasoning_tokens

    def key(self, key: str) -> KeyAccount:
        """One key's account (empty for a key that spent nothing)."""
        return self.keys.get(key) or KeyAccount()

    def since(self, first_day: date) -> Decimal:
        """The account's spend from a UTC day on."""
        return self.account.since(first_day)

    def periods(self, today: date) -> dict[str, Decimal]:
        """The account's spend today, this ISO week and this month."""
        return self.account.periods(today)

    def days(self, days: list[date]) -> list[tuple[date, str, ModelDay]]:
        """The activity rows of those days, by day then model."""
        wanted = set(days)
        return sorted(
            (day, model, row)
            for (day, model), row in self.activity.items()
            if day in wanted
        )
