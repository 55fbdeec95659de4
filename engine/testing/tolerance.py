"""When two floats count as equal: ``|actual - expected| <= atol + rtol * |expected|``."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable


def check_tolerances(atol: float, rtol: float) -> None:
    """Finite tolerances >= 0: an infinite or nan one would let any gradient pass (or none)."""
    for name, tol in (("atol", atol), ("rtol", rtol)):
        if (isinstance(tol, bool) or not isinstance(tol, numbers.Real)
                or not (math.isfinite(tol) and tol >= 0)):
            raise ValueError(f"{name} must be a number >= 0 and finite, got {tol!r:.80}: a "
                             "tolerance of inf accepts every gradient, a nan one none")

def closeness(atol: float, rtol: float) -> Callable[[float, float], bool]:
    """``close(actual, expected)`` with these tolerances; equal infinities are close."""
    def close(actual: float, expected: float) -> bool:
        return actual == expected or abs(actual - expected) <= atol + rtol * abs(expected)
    return close


def identical(a: float, b: float) -> bool:
    """The same float, nan counting as equal to nan."""
    return a == b or (math.isnan(a) and math.isnan(b))


def same_float(a: float, b: float, atol: float, rtol: float) -> bool:
    """Close within the tolerances, nan equal only to nan."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= atol + rtol * abs(b)
