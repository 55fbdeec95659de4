"""The expression of micrograd's lecture, ``L = (a*b + c) * f``, labelled: the drawing tests'
common example."""

from __future__ import annotations

from engine import Value


def lecture_expression(backward: bool = False) -> Value:
    """``L = (a*b + c) * f`` at a = 2, b = -3, c = 10, f = -2, with e = a*b and d = e + c."""
    a, b, c, f = Value(2.0, "a"), Value(-3.0, "b"), Value(10.0, "c"), Value(-2.0, "f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    if backward:
        L.backward()
    return L
