"""Budget periods, their labels and bounds, and alert thresholds (pure)."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.budget_periods import (
    BudgetPeriod,
    period_bounds,
    period_of,
    reached_thresholds,
)
from shared.rate_limits import TenantLimits

# A Sunday late in the day: the ISO week started on Monday 2026-11-30.
MOMENT = datetime(2026, 12, 6, 23, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "label", "start", "days"),
    [
        (BudgetPeriod.DAY, "2026-12-06", datetime(2026, 12, 6, tzinfo=UTC), 1),
        (BudgetPeriod.WEEK, "2026-W49", datetime(2026, 11, 30, tzinfo=UTC), 7),
        (BudgetPeriod.MONTH, "2026-12", datetime(2026, 12, 1, tzinfo=UTC), 31),
    ],
)
def test_each_period_has_a_label_and_bounds_that_hold_the_moment(
    period, label, start, days
):
    assert period_of(MOMENT, period) == label
    assert period_bounds(label) == (start, start + timedelta(days=days))
    low, high = period_bounds(label)
    assert low <= MOMENT < high


def test_a_week_across_the_new_year_belongs_to_its_iso_year():
    assert period_of(datetime(2027, 1, 1, tzinfo=UTC), BudgetPeriod.WEEK) == "2026-W53"
    assert period_bounds("2026-W53")[0] == datetime(2026, 12, 28, tzinfo=UTC)


def test_thresholds_reached_by_a_spend():
    assert reached_thresholds(4.99, 10, (50, 80, 100)) == []
    assert reached_thresholds(5, 10, (50, 80, 100)) == [50]
    assert reached_thresholds(12, 10, (50, 80, 100, 150)) == [50, 80, 100]
    assert reached_thresholds(0, 0, (50,)) == []


def test_tenant_limits_default_to_monthly_budgets_and_50_80_100():
    limits = TenantLimits(monthly_budget_usd=10)
    assert limits.period is BudgetPeriod.MONTH
    assert limits.alert_thresholds == (50, 80, 100)
    custom = TenantLimits(budget_period="week", budget_alerts=[90, 25, 90])
    assert custom.period is BudgetPeriod.WEEK
    assert custom.alert_thresholds == (25, 90)


@pytest.mark.parametrize("alerts", [[0], [1001], list(range(1, 13))])
def test_out_of_range_alert_thresholds_are_refused(alerts):
    with pytest.raises(ValidationError):
        TenantLimits(budget_alerts=alerts)
