import pytest

from shared.durations import parse_duration_s


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("60s", 60.0),
        ("500ms", 0.5),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1.5", 1.5),
        (30, 30.0),
    ],
)
def test_parse_duration_accepts_operator_spellings(
    text: str | int, seconds: float
) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "10 parsecs", "-5s", "1e3"])
def test_parse_duration_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration_s(text)
