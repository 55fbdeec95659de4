"""Tools for testing gradients, usable from any test suite (standard library only)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from engine.value import Value


def numeric_grad(f: Callable[..., Value], *inputs: float, eps: float = 1e-6) -> list[float]:
    """d f / d input_i by central differences, for each input.

    ``f`` maps Values to one Value and is called on fresh leaves. The step is *relative*,
    ``h = eps * max(1, |x|)``: an absolute step vanishes next to large inputs (x = 1e10).
    """
    point = [float(x) for x in inputs]
    grads = []
    for i, x in enumerate(point):
        h = eps * max(1.0, abs(x))
        up, down = x + h, x - h
        grads.append((_eval(f, point, i, up) - _eval(f, point, i, down)) / (up - down))
    return grads


def _eval(f: Callable[..., Value], point: Sequence[float], i: int, x: float) -> float:
    args = [Value(v) for v in point]
    args[i] = Value(x)
    return f(*args).data
