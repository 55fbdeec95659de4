"""What the engine takes as a number (``real``), and why a Value is not converted to one."""

from __future__ import annotations

import math
import numbers


def real(x: object, what: str = "Value data") -> float:
    """``x`` as a float if it is a real number (an int beyond the float range rounds to +-inf, as
    in IEEE), else a TypeError saying what ``what`` must be."""
    if type(x) is float:
        return x
    if isinstance(x, numbers.Real):
        try:
            return float(x)
        except OverflowError:  # an int beyond the float range rounds to +-inf, as in IEEE
            return math.inf if x > 0 else -math.inf
    raise TypeError(f"{what} must be a real number (int, float, bool or a NumPy real scalar), "
                    f"not {type(x).__name__}: {x!r:.80}")


def not_converted(call: str, instead: str) -> TypeError:
    """The error of ``float(v)`` and the like: the number is ``v.data``, said out loud."""
    return TypeError(f"{call}: a Value is not converted to a number implicitly, which would "
                     f"leave the graph without a word. Use {instead} for its number (a float, "
                     "off the graph: no gradient flows through it), or the Value method to stay "
                     "on the graph: v.exp(), v.log(), v.sqrt(), v.tanh(), v ** 2, ...")
