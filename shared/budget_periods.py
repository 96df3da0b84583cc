"""Budget periods and alert thresholds (pure).

A tenant's budget covers one UTC day, ISO week (Monday to Sunday) or month. Each
period has a label that names its ledger in Redis and its alerts in Postgres:
`2026-12-06` (a day), `2026-W49` (a week), `2026-12` (a month).
"""

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

DEFAULT_ALERT_THRESHOLDS = (50, 80, 100)  # percent of the budget


class BudgetPeriod(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def adjective(self) -> str:
        return {"day": "daily", "week": "weekly", "month": "monthly"}[self.value]


def period_of(now: datetime, period: BudgetPeriod = BudgetPeriod.MONTH) -> str:
    """The label of the period `now` falls in."""
    moment = now.astimezone(UTC)
    if period is BudgetPeriod.DAY:
        return moment.strftime("%Y-%m-%d")
    if period is BudgetPeriod.WEEK:
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return moment.strftime("%Y-%m")


def period_bounds(label: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the period a label names."""
    if "-W" in label:
        year, week = label.split("-W")
        start_day = date.fromisocalendar(int(year), int(week), 1)
        start = datetime(start_day.year, start_day.month, start_day.day, tzinfo=UTC)
        return start, start + timedelta(days=7)
    if label.count("-") == 2:
        start = datetime.strptime(label, "%Y-%m-%d").replace(tzinfo=UTC)
        return start, start + timedelta(days=1)
    start = datetime.strptime(label, "%Y-%m").replace(tzinfo=UTC)
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start, end


def reached_thresholds(
    spent_usd: float, budget_usd: float, thresholds: tuple[int, ...]
) -> list[int]:
    """The thresholds (percent) that `spent_usd` of `budget_usd` has reached; none
    for a zero budget, which admits nothing and so warns of nothing."""
    if budget_usd <= 0:
        return []
    return [pct for pct in thresholds if spent_usd * 100 >= budget_usd * pct]
