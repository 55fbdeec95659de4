"""The argument checks that several ``nn`` modules share: counts, hyperparameters, inputs.

Each returns the argument in the form the caller computes with, or raises an error that names
the argument and what it should be.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence, Set

from engine import Value

_VALUE_ONLY = {Value}


def int_at_least(n: object, what: str, minimum: int = 1, maximum: int | None = None) -> int:
    """``n`` as an int, checked to be an int (not a bool) >= ``minimum`` (and <= ``maximum``)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < minimum:
        bound = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{what} must be {bound}, got {n!r:.40}")
    if maximum is not None and n > maximum:
        raise ValueError(f"{what} must be at most {maximum}, got {n!r:.40}")
    return int(n)


def hyperparameter(x: object, name: str, below_one: bool = False,
                   positive: bool = False) -> float:
    """``x`` as a float: a finite number >= 0 (> 0 if ``positive``, < 1 with ``below_one``)."""
    ok = isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x) and x >= 0
    if not ok or (below_one and x >= 1) or (positive and x == 0):
        bound = "in [0, 1)" if below_one else "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {x!r:.40}")
    return float(x)


def lift(x: Sequence[Value | float], nin: int, who: str) -> tuple[Value, ...]:
    """The inputs as a tuple of ``nin`` Values (numbers become leaves), checked once per call."""
    if type(x) is list:  # the usual case, checked first: isinstance on ABCs is slow
        x = tuple(x)
    elif type(x) is not tuple:
        if (isinstance(x, Value | numbers.Number | str | Mapping | Set)
                or not isinstance(x, Iterable) or not hasattr(x, "__len__")):
            raise TypeError(f"{who} expects a sequence of {nin} inputs (numbers or Values, in "
                            f"order: a list, a tuple or an array), got {type(x).__name__}: "
                            f"{x!r:.60}")
        x = tuple(x)
    if len(x) != nin:
        raise ValueError(_batch_message(x, nin, who) or f"{who} expects {nin} inputs, got {len(x)}")
    if {*map(type, x)} != _VALUE_ONLY:  # numbers (or junk) among them: lift one by one
        x = tuple(v if type(v) is Value else _input_value(v, i, who, x, nin)
                  for i, v in enumerate(x))
    return x


def _input_value(v: object, i: int, who: str, x: tuple, nin: int) -> Value:
    if isinstance(v, numbers.Real) and not isinstance(v, Value):
        return Value(float(v))
    raise TypeError(_batch_message(x, nin, who) or f"{who} input {i} must be a real number or "
                    f"a Value, not {type(v).__name__}: {v!r:.60}")


def _batch_message(x: tuple, nin: int, who: str) -> str:
    """The error for a model called on a batch (rows of numbers) instead of one sample; ""
    when ``x`` is not rows, or ``who`` is no model."""
    if who not in ("MLP", "Layer", "Neuron") or not x or not all(map(_is_row, x)):
        return ""
    predict = (", or nn.train.predict(model, X) gives the outputs of all of them as floats"
               if who == "MLP" else "")
    return (f"{who} takes one sample ({nin} numbers), got a batch of {len(x)} rows: run it on "
            f"each sample ([model(x) for x in X]){predict}")


def _is_row(r: object) -> bool:
    if isinstance(r, str | bytes | Value):
        return False
    return isinstance(r, Sequence) or getattr(r, "ndim", 0) >= 1  # a list, tuple or array
