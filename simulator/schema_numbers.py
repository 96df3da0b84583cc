"""Integers and numbers within a JSON schema's bounds and `multipleOf`."""

import math
import random
from collections.abc import Callable, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

_DEFAULT_SPAN = 100  # how far past one bound a value may go when the other is open


class NoNumberFits(ValueError):
    """The bounds and `multipleOf` leave no value to draw."""


def _end(
    schema: Mapping[str, Any],
    inclusive: str,
    exclusive: str,
    tighter: Callable[[Any, Any], Any],
) -> tuple[Any, bool]:
    """One end of the range and whether the end itself is excluded.

    A boolean `exclusiveMinimum` (draft 4) makes `minimum` itself excluded.
    """
    bound, flag = schema.get(inclusive), schema.get(exclusive)
    if isinstance(flag, bool):
        return bound, flag and bound is not None
    if flag is not None and (bound is None or tighter(bound, flag) == flag):
        return flag, True
    return bound, False


def _range(schema: Mapping[str, Any]) -> tuple[float, bool, float, bool]:
    """Low end, is it open, high end, is it open; an open side spans a default."""
    low, is_low_open = _end(schema, "minimum", "exclusiveMinimum", max)
    high, is_high_open = _end(schema, "maximum", "exclusiveMaximum", min)
    if low is None:
        low = 0 if high is None else high - _DEFAULT_SPAN
    if high is None:
        high = low + _DEFAULT_SPAN
    return float(low), is_low_open, float(high), is_high_open


def _step(schema: Mapping[str, Any]) -> Decimal | None:
    step = schema.get("multipleOf")
    if step is None:
        return None
    if isinstance(step, bool) or not isinstance(step, int | float) or step <= 0:
        raise NoNumberFits("multipleOf must be a number above 0")
    return Decimal(str(step))


def _multiple(
    schema: Mapping[str, Any], step: Decimal, rng: random.Random, *, kind: str
) -> Decimal:
    """A multiple of `step` inside the range, drawn evenly."""
    low, is_low_open, high, is_high_open = _range(schema)
    first = math.ceil(Decimal(str(low)) / step)
    last = math.floor(Decimal(str(high)) / step)
    first += 1 if is_low_open and first * step == Decimal(str(low)) else 0
    last -= 1 if is_high_open and last * step == Decimal(str(high)) else 0
    if first > last:
        raise NoNumberFits(f"no {kind} lies between minimum and maximum")
    return rng.randint(first, last) * step


def draw_integer(schema: Mapping[str, Any], rng: random.Random) -> int:
    """An integer within the bounds and a multiple of `multipleOf` (1 when unset)."""
    step = _step(schema) or Decimal(1)
    # The integer multiples of p/q (lowest terms) are exactly the multiples of p.
    whole_step = Decimal(Fraction(step).numerator)
    return int(_multiple(schema, whole_step, rng, kind="integer"))


def draw_number(schema: Mapping[str, Any], rng: random.Random) -> float:
    """A number within the bounds; with `multipleOf`, a multiple of it."""
    step = _step(schema)
    if step is not None:
        return float(_multiple(schema, step, rng, kind="multiple of multipleOf"))
    low, is_low_open, high, is_high_open = _range(schema)
    if low > high or (low == high and (is_low_open or is_high_open)):
        raise NoNumberFits("minimum is above maximum")
    if low == high:
        return low
    value = low + (high - low) * rng.uniform(0.1, 0.9)
    rounded = round(value, 2)
    return rounded if low < rounded < high else value
