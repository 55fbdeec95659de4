"""The table of operations: what each computes and its local derivatives, one line each.

Every node of a graph records the name of its operation (``op``) and its operands (``parents``).
Its *local derivatives* ``d out / d operand_i`` are computed from this table during the backward
pass, which multiplies each by the node's own gradient: the chain rule, in one place
(:meth:`engine.Value.backward`). In the lecture notes' words, each weight's gradient is "the
forward signal times the backward signal": the forward signals are the operands stored here, the
backward signal is the gradient arriving at the node.

A rule takes the operands' values and the output's value (``*inputs, out``) and returns one local
derivative per operand; an operation whose local derivatives are constants (``+``, ``-``, ``neg``)
gives them as a tuple instead. Rules are plain arithmetic on their arguments, so they work on
floats (the backward pass) and on Values alike; the helpers below (``div``, ``power``, ``log``,
``sign``) pick the IEEE float function or the Value method.

The subgradients at kinks follow PyTorch: ``relu'(0) = 0``, ``abs'(0) = 0``,
``leaky_relu'(0) = slope``, ``d(x ** 0)/dx = 0`` even at 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import add, mul, neg, sub

from engine import ieee

# -- maths that works on floats (IEEE, never raising) and on Values (building a graph) ----------


def div(x, y):
    return ieee.div(x, y) if type(x) is float and type(y) is float else x / y


def power(x, y):
    return ieee.power(x, y) if type(x) is float and type(y) is float else x**y


def log(x):
    return ieee.log(x) if type(x) is float else x.log()


def sign(x):
    return ieee.sign(x) if type(x) is float else ieee.sign(x.data)  # piecewise constant


# -- forward functions of the n-ary operations --------------------------------------------------


def add_all(*xs: float) -> float:
    """x_1 + x_2 + ..., left to right in plain float additions (``sum()`` compensates its
    rounding from Python 3.12 on: the engine gives the same numbers on every version). It starts
    from x_1, not from 0.0, so that ``add_all(b, *products)`` is exactly ``affine``'s sum."""
    if not xs:
        return 0.0
    total = xs[0]
    for x in xs[1:]:
        total += x
    return total


def affine_width(count: int) -> int:
    """The n of an affine node with ``count`` operands (n weights, n inputs, one bias)."""
    if count % 2 == 0:
        raise ValueError(f"affine takes n weights, n inputs and one bias (2n + 1 operands), "
                         f"got {count} operands")
    return count // 2


def affine(*wxb: float) -> float:
    """w . x + b for operands (w_1..w_n, x_1..x_n, b): a neuron's pre-activation z, added as
    b + w_1 x_1 + ... + w_n x_n (the order of ``Value.sum([b, *products])``)."""
    n = affine_width(len(wxb))
    total = wxb[-1]
    for w, x in zip(wxb[:n], wxb[n:-1], strict=True):
        total += w * x
    return total


def affine_local(*wxb_out):
    """dz/dw_i = x_i, dz/dx_i = w_i, dz/db = 1."""
    n = (len(wxb_out) - 2) // 2
    return (*wxb_out[n:-2], *wxb_out[:n], 1.0)


def leaky_relu(x: float, slope: float) -> float:
    return x if x > 0 else slope * x


# -- the table ----------------------------------------------------------------------------------

REAL, POSITIVE, NONZERO = "real", "positive", "nonzero"  # where an operand keeps the op smooth


@dataclass(frozen=True)
class Op:
    """One operation: its forward function on floats and its local-derivative rule.

    ``domain`` says, per operand, where the op is defined and differentiable; ``kinks`` lists the
    points of the first operand where the derivative jumps (PyTorch's subgradient is used there);
    ``constants`` are operand positions that are fixed parameters (an exponent, a slope), to which
    no gradient flows. ``smooth=False`` marks an op that finite differences cannot check away
    from listed kinks (a step, rounding): the hypothesis strategies leave it out. Gradient
    checkers and the hypothesis strategies read these.
    """

    forward: Callable[..., float]
    local: Callable[..., tuple] | tuple[float, ...]
    arity: int | None  # None: any number of operands
    domain: tuple[str, ...] = ()  # per operand; missing entries mean REAL
    kinks: tuple[float, ...] = ()
    constants: tuple[int, ...] = ()
    smooth: bool = True  # False: the derivative also jumps off the listed kinks (steps, rounding)

    def derivatives(self, *inputs_and_out):
        """The local derivatives at the given operand values and output value."""
        local = self.local
        return local if type(local) is tuple else local(*inputs_and_out)


# fmt: off
OPS: dict[str, Op] = {
    "+":          Op(add,         (1.0, 1.0), 2),
    "-":          Op(sub,         (1.0, -1.0), 2),
    "*":          Op(mul,         lambda x, y, out: (y, x), 2),
    "/":          Op(ieee.div,    lambda x, y, out: (div(1.0, y), div(-out, y)), 2,
                     (REAL, NONZERO)),
    "**":         Op(ieee.power,  lambda x, c, out: (c * power(x, c - 1) if c else 0.0, 0.0), 2,
                     (POSITIVE,), constants=(1,)),
    "pow":        Op(ieee.power,  lambda x, y, out: (y * power(x, y - 1) if y else 0.0,
                                                     out * log(x) if x or y < 0 else 0.0), 2,
                     (POSITIVE, REAL)),
    "neg":        Op(neg,         (-1.0,), 1),
    "abs":        Op(abs,         lambda x, out: (sign(x),), 1, kinks=(0.0,)),
    "exp":        Op(ieee.exp,    lambda x, out: (out,), 1),
    "log":        Op(ieee.log,    lambda x, out: (div(1.0, x),), 1, (POSITIVE,)),
    "sqrt":       Op(ieee.sqrt,   lambda x, out: (div(0.5, out),), 1, (POSITIVE,)),
    "tanh":       Op(ieee.tanh,   lambda x, out: (1.0 - out * out,), 1),
    "sigmoid":    Op(ieee.sigmoid, lambda x, out: (out * (1.0 - out),), 1),
    "relu":       Op(ieee.relu,   lambda x, out: (1.0 if x > 0 else 0.0,), 1, kinks=(0.0,)),
    "leaky_relu": Op(leaky_relu,  lambda x, slope, out: (1.0 if x > 0 else slope, 0.0), 2,
                     kinks=(0.0,), constants=(1,)),
    "sum":        Op(add_all,     lambda *xs_out: (1.0,) * (len(xs_out) - 1), None),
    "affine":     Op(affine,      affine_local, None),
}
# fmt: on

RULES: dict[str, Callable[..., tuple] | tuple[float, ...]] = {n: op.local for n, op in OPS.items()}
"""op name -> local-derivative rule (or constant derivatives); the backward pass's lookup."""


BUILT_IN = frozenset(OPS)


def register(name: str, op: Op) -> None:
    """Add a user-defined operation to the table; ``engine.apply(name, ...)`` builds its nodes."""
    if not name or not isinstance(name, str):
        raise ValueError(f"an operation needs a non-empty str name, got {name!r}")
    if name in OPS:
        raise ValueError(f"operation {name!r} is already registered")
    if not isinstance(op, Op):
        raise TypeError(f"register needs an engine.derivatives.Op, not {type(op).__name__}")
    if not callable(op.forward) or not (callable(op.local) or type(op.local) is tuple):
        raise TypeError(f"operation {name!r}: forward must be callable and local a rule or a "
                        "tuple of constant derivatives")
    if type(op.local) is tuple and len(op.local) != op.arity:
        raise ValueError(f"operation {name!r}: {len(op.local)} constant derivatives for "
                         + ("any number of operands (give a rule instead)" if op.arity is None
                            else f"{op.arity} operands"))
    OPS[name] = op
    RULES[name] = op.local


def unregister(name: str) -> None:
    """Remove a user-defined operation (graphs that still use it can no longer run backward)."""
    if name in BUILT_IN:
        raise ValueError(f"{name!r} is a built-in operation; only registered ones can be removed")
    if name not in OPS:
        raise ValueError(f"no registered operation {name!r}")
    del OPS[name], RULES[name]
