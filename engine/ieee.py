"""Float functions that follow IEEE 754 (and PyTorch) instead of raising.

Python's float arithmetic raises where IEEE returns a value: ``1.0 / 0.0`` raises
``ZeroDivisionError``, ``math.log(0)`` ``ValueError``, ``math.exp(1000)`` ``OverflowError``, and
``(-2.0) ** 0.5`` silently returns a complex number. Every forward computation of the engine goes
through these functions, so a graph never raises mid-way and never holds a complex number:
``log(0) = -inf``, ``log(-1) = nan``, ``exp(1000) = inf``, ``1/0 = inf``, ``0/0 = nan``,
``(-2) ** 0.5 = nan``.
"""

from __future__ import annotations

import math

inf = math.inf
nan = math.nan


def div(x: float, y: float) -> float:
    """x / y, with x/0 = +-inf (sign of x times sign of the zero) and 0/0 = nan."""
    try:
        return x / y
    except ZeroDivisionError:
        if x == 0 or x != x:
            return nan
        return math.copysign(inf, x) * math.copysign(1.0, y)


def _is_odd_integer(y: float) -> bool:
    return y % 2 == 1 if math.isfinite(y) else False


def power(x: float, y: float) -> float:
    """x ** y as a real number (C99 ``pow``): nan for a negative base and a non-integer exponent."""
    try:
        r = x ** y
    except ZeroDivisionError:  # 0 ** negative: a pole; the sign survives for odd integer exponents
        return math.copysign(inf, x) if _is_odd_integer(y) else inf
    except OverflowError:  # |x ** y| beyond the float range; a negative base needs an integer y
        if x < 0 and y != math.floor(y):
            return nan
        return -inf if x < 0 and _is_odd_integer(y) else inf
    return nan if type(r) is complex else float(r)


def exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return inf


def log(x: float) -> float:
    """Natural log: -inf at 0, nan below 0 (PyTorch's values)."""
    if x > 0:
        return math.log(x)
    return -inf if x == 0 else nan


def sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 else nan


def sin(x: float) -> float:
    """Sine, nan at +-inf (``math.sin`` raises there)."""
    return math.sin(x) if math.isfinite(x) else nan


def cos(x: float) -> float:
    """Cosine, nan at +-inf (``math.cos`` raises there)."""
    return math.cos(x) if math.isfinite(x) else nan


tanh = math.tanh  # bounded, so stable for any x: tanh(+-1000) = +-1


def sigmoid(x: float) -> float:
    """1 / (1 + e^-x), in the form that cannot overflow for either sign of x."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = exp(x)  # x may be nan, which fails both tests and lands here
    return e / (1.0 + e)


def relu(x: float) -> float:
    """max(x, 0), with relu(nan) = nan."""
    return 0.0 if x <= 0 else x


def sign(x: float) -> float:
    """-1, 0 or 1 (0 at +-0, the subgradient PyTorch uses for abs), nan for nan."""
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    return 0.0 if x == 0 else nan
