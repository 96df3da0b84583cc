"""Reporting periods stay within the calendar Python and Postgres share."""

from datetime import UTC, date, datetime

import pytest

from broker_api.periods import period_from_dates
from shared.errors import DateOutOfRange, InvalidRequest

TODAY = date(2026, 3, 15)


def test_the_default_period_is_the_last_30_days() -> None:
    period = period_from_dates(None, None, today=TODAY)
    assert period.start == datetime(2026, 2, 14, tzinfo=UTC)
    assert period.end == datetime(2026, 3, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (date.min, date(1, 1, 2)),
        (date(9999, 12, 30), date(9999, 12, 30)),
        (None, date(1, 1, 30)),
    ],
)
def test_the_first_and_last_days_of_the_calendar_are_accepted(
    first: date | None, last: date
) -> None:
    period = period_from_dates(first, last, today=TODAY)
    assert period.start < period.end


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        (None, date.min, "to"),
        (None, date(1, 1, 29), "to"),
        (None, date.max, "to"),
        (date.max, date.max, "to"),
        (date(9999, 12, 1), date.max, "to"),
    ],
)
def test_periods_past_the_calendar_are_refused_with_the_parameter(
    first: date | None, last: date, field: str
) -> None:
    with pytest.raises(DateOutOfRange) as raised:
        period_from_dates(first, last, today=TODAY)
    assert raised.value.details == {"field": field}
    assert raised.value.code == "date_out_of_range"


def test_from_after_to_stays_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="after"):
        period_from_dates(date(2030, 1, 2), date(2030, 1, 1), today=TODAY)
