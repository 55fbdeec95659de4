"""Derivatives by finite differences, with a step relative to the input: the numeric oracle.

It shares no code with the engine's backward pass: ``f`` is only evaluated, never differentiated.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

from engine.functional import floats
from engine.modes import no_grad
from engine.value import Value

METHODS = ("central", "richardson")


def numeric_grad(f: Callable[..., Value], *inputs: float | Value, eps: float = 1e-6,
                 method: str = "central") -> list[float]:
    """d f / d input_i by finite differences, for each input.

    ``f`` maps Values to one Value and is called on fresh leaves (under ``no_grad``: only the
    numbers matter). The step is *relative*, ``h = eps * max(1, |x|)``: an absolute step vanishes
    next to large inputs (at x = 1e10, x + 1e-6 == x). ``method="central"`` uses
    ``(f(x+h) - f(x-h)) / 2h`` (error ~h²); ``"richardson"`` combines steps h and h/2 into an
    O(h⁴) estimate, most accurate with a larger ``eps`` such as 1e-3.
    """
    point = floats(inputs)
    check_options(eps, method)
    return [derivative(along(f, point, i), x, eps, method) for i, x in enumerate(point)]


def check_options(eps: float, method: str) -> None:
    """A relative step strictly between 0 and 1 (not nan, inf or a bool), and a known method."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 < eps < 1:
        raise ValueError(f"eps must be a number between 0 and 1 (a relative step), got {eps!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


def along(f: Callable[..., Value], point: Sequence[float], i: int) -> Callable[[float], float]:
    """f as a float function of input i alone, the other inputs fixed."""
    def f_i(x: float) -> float:
        args = [Value(v) for v in point]
        args[i] = Value(x)
        with no_grad():
            out = f(*args)
        return _output_data(out)
    return f_i


def _output_data(out: object) -> float:
    if type(out) is Value:
        return out.data
    if isinstance(out, (int, float)) and not isinstance(out, bool):
        return float(out)
    raise TypeError(f"f must return a Value, got {type(out).__name__}: {out!r:.80}")


def step(x: float, eps: float) -> float:
    """The step at x: eps relative to |x|, absolute below |x| = 1."""
    return eps * max(1.0, abs(x))


def _central(f: Callable[[float], float], x: float, h: float) -> float:
    up, down = x + h, x - h
    return (f(up) - f(down)) / (up - down)  # the points actually used, after rounding


def derivative(f: Callable[[float], float], x: float, eps: float, method: str) -> float:
    """f'(x) by central differences, or Richardson's combination of two of them."""
    h = step(x, eps)
    if method == "central":
        return _central(f, x, h)
    return (4.0 * _central(f, x, h / 2) - _central(f, x, h)) / 3.0  # cancels the h² term


def one_sided(f: Callable[[float], float], x: float, h: float) -> tuple[float, float]:
    """The left and right difference quotients: they disagree on a kink."""
    fx = f(x)
    return (fx - f(x - h)) / (x - (x - h)), (f(x + h) - fx) / ((x + h) - x)

