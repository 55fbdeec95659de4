"""The compiler's table: how each operation of ``engine.derivatives.OPS`` is written in a program.

One row per op, keyed by its name. A row writes the op's forward as Python text from its
operands' text (``tanh(z)``, ``a - y``) and gives the NumPy functions that text calls in the
batch program; the one-sample program calls the op's own float function from the engine's table
under the same name, so the one text runs on floats and on arrays. The local derivatives come
from the engine's table itself, its rule run on symbols (:mod:`engine.compiler.symbols`); a row
overrides that only where the rule's text would not compute what the rule computes on floats.
The ``affine`` row also says how a layer's nodes become one matrix product (:class:`AffineGroups`).

NumPy is imported when a batch program is built (:func:`numpy_functions`), never by
``import engine``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from engine import ieee
from engine.compiler.symbols import Symbol, call, infix
from engine.derivatives import OPS, PRODUCT, SUM, div, leaky_relu, reciprocal

CHUNK = 32  # terms per line of a long sum: Python's compiler recurses once per term


def _calls(name: str) -> Callable[..., Symbol]:
    return lambda *xs: call(name, *xs)


def _infix(symbol: str, precedence: int) -> Callable[..., Symbol]:
    return lambda x, y: infix(x, symbol, y, precedence)


def _neg(x: Symbol) -> Symbol:
    return -x


def sum_of(terms: Sequence[Symbol]) -> Symbol:
    """``t1 + t2 + ...``, added left to right as ``add_all`` and ``affine`` add."""
    if not terms:
        return Symbol("0.0")
    total = terms[0]
    for t in terms[1:]:
        total = infix(total, "+", t, SUM)
    return total


def _sum(*xs: Symbol) -> Symbol:
    return sum_of(xs)


def _affine(*wxb: Symbol) -> Symbol:
    n = len(wxb) // 2
    return sum_of([wxb[-1], *(infix(w, "*", x, PRODUCT) for w, x in zip(wxb[:n], wxb[n:-1],
                                                                          strict=True))])


def _pow_local(x: Symbol, y: Symbol, out: Symbol) -> tuple[Symbol, Symbol]:
    """``pow_local`` as it runs on floats: its ``type(y)`` test picks the Value semantics of
    y = 0 on symbols, where floats give 0.0."""
    dx = call("where", y != 0, y * call("power", x, y - 1), 0.0)
    dy = call("where", x != 0, out * call("log", x), call("where", y >= 0, 0.0,
                                                          out * call("log", x)))
    return dx, dy


def _div_local(x: Symbol, y: Symbol, out: Symbol) -> tuple[Symbol, Symbol]:
    """``div_local`` with its ``reciprocal(y)`` kept as a call: on floats that helper's product
    with g is g / y where 1 / y overflows (a subnormal y), which the text 1.0 / y would lose."""
    return call("reciprocal", y), div(-out, y)


def _log_local(x: Symbol, out: Symbol) -> tuple[Symbol]:
    """``log``'s rule, ``reciprocal(x)``, kept as a call for the same reason."""
    return (call("reciprocal", x),)


def _abs_local(x: Symbol, out: Symbol) -> tuple[Symbol]:
    """sign(x), the rule's own helper (it reads x's number, which a symbol has not)."""
    return (call("sign", x),)


@dataclass(frozen=True)
class ArrayOp:
    """How one op is written: ``forward(*operand_symbols) -> Symbol``; ``numpy`` maps the names
    that text calls to NumPy functions (filled by :func:`numpy_functions`); ``local`` replaces
    the engine's rule where running it on symbols would not say what it does on floats;
    ``groups`` says how nodes of the op become one matrix operation (affine); ``over_rows``
    how one node of an op of many operands reads whole blocks (:class:`OverRows`)."""

    forward: Callable[..., Symbol]
    numpy: Callable[[object], dict[str, Callable]] = lambda np: {}
    local: Callable[..., tuple] | None = None
    groups: AffineGroups | None = None
    over_rows: OverRows | None = None


@dataclass(frozen=True)
class OverRows:
    """A node whose operands are the rows of blocks (a sum of a layer's outputs, the shift of
    log-sum-exp, a dot product of two blocks) written as one NumPy call over the rows:
    ``sum_rows(M1)`` instead of ``M1[0] + M1[1] + ...``. ``split`` groups the operands (a tuple
    of nodes is read as a block, a node as itself); ``forward`` writes the node from the groups'
    symbols. The derivatives are the table's rule, run with each block's name for its rows."""

    forward: Callable[..., Symbol]
    split: Callable[[tuple], tuple] = lambda operands: (operands,)


@dataclass(frozen=True)
class AffineGroups:
    """A layer: ``affine`` nodes that read the same inputs, their weights and biases parameters,
    computed as one matrix product ``Z = W @ A + b`` (the samples are A's columns), and
    differentiated as ``gW += gZ @ A.T``, ``gb += gZ.sum(axis=1, keepdims=True)``,
    ``gA = W.T @ gZ``: the lecture notes' matrix backpropagation, affine's chain rule on a batch.
    """

    split: Callable[[tuple], tuple] = field(default=lambda operands: (
        operands[:len(operands) // 2], operands[len(operands) // 2:-1], operands[-1]))

    def key(self, operands: tuple) -> tuple[int, ...]:
        """Nodes with the same key form one product: the ids of the inputs they read."""
        return tuple(map(id, self.split(operands)[1]))

    def forward(self, Z: str, W: str, A: str, b: str) -> str:
        return f"{Z} = {W} @ {A} + {b}"

    def backward(self, gZ: str, W: str | None, A: str, gW: str | None, gb: str | None,
                 gA: tuple[str, str] | None) -> list[str]:
        """Lines adding ``gZ``'s share to the weights' and biases' gradients (if they are
        parameters) and giving the inputs' (``gA``: the name and ``=`` or ``+=``... as text)."""
        lines = []
        if gW is not None:
            lines.append(f"{gW} += {gZ} @ {A}.T")
        if gb is not None:
            lines.append(f"{gb} += {gZ}.sum(axis=1, keepdims=True)")
        if gA is not None:
            name, first = gA
            lines.append(f"{name} = {W}.T @ {gZ}" if first else f"{name} = {name} + {W}.T @ {gZ}")
        return lines


def _np_sum_rows(np):
    def sum_rows(S, start=None):
        """The rows of ``S`` added left to right (after ``start``), as ``add_all`` and
        ``affine`` add. NumPy adds row after row along a block's slow axis, but pairs the terms
        along the fast one (a single column, a transposed block): ``accumulate`` adds those in
        order by definition. Without ``start``, reduce starts from -0.0 (``-0.0 + x`` is x, bit
        for bit), not from add's identity 0.0, which would make a sum of -0.0 0.0."""
        if S.flags.c_contiguous and S.shape[1] > 1 and not isinstance(start, np.ndarray):
            return np.add.reduce(S, axis=0, initial=-0.0 if start is None else start)
        S = S.copy()
        if start is not None:
            S[0] += start
        return np.add.accumulate(S, axis=0, out=S)[-1]
    return {"sum_rows": sum_rows}


def _np_max_shift(np):
    def max_shift(*xs):  # Python's max: the first of equals, and a nan first stays
        largest = xs[0]
        for x in xs[1:]:
            largest = np.where(x > largest, x, largest)
        return np.where(np.isfinite(largest), largest, 0.0)

    def max_shift_rows(S):
        """``max_shift`` of each column: Python's max skips a nan after the first row, as
        ``fmax`` does, and keeps one in the first row (then 0.0); of 0.0 and -0.0 it keeps the
        first, where fmax may give either."""
        largest = np.fmax.reduce(S, axis=0)
        zero = largest == 0.0
        if zero.any():  # the first zero's sign (the rows before it are below 0, or nan)
            first = (S == 0.0).argmax(axis=0)
            largest = np.where(zero, S[first, np.arange(S.shape[1])], largest)
        return np.where(np.isfinite(largest) & (S[0] == S[0]), largest, 0.0)
    return {"max_shift": max_shift, "max_shift_rows": max_shift_rows}


def _np_reciprocal(np):
    class Quotient:
        """``1 / y`` where it overflows somewhere (a subnormal y): its product with g is ``g /
        y`` there, ``(1 / y) * g`` elsewhere, as ``reciprocal``'s on floats."""

        __array_ufunc__ = None  # g * this: NumPy asks this object

        def __init__(self, r, y):
            self.r, self.y = r, y

        def __mul__(self, g):
            over = np.isinf(self.r) & (self.y != 0)
            return np.where(over, np.divide(g, self.y), self.r * g)

        __rmul__ = __mul__

    def reciprocal(y):
        r = np.divide(1.0, y)
        return r if np.isfinite(r).all() else Quotient(r, y)
    return {"reciprocal": reciprocal}


def _np_sigmoid(np):
    def sigmoid(x):
        e = np.exp(-np.abs(x))  # never overflows; nan stays nan
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return {"sigmoid": sigmoid}


# fmt: off
ARRAY_OPS: dict[str, ArrayOp] = {
    "+":   ArrayOp(_infix("+", SUM)),
    "-":   ArrayOp(_infix("-", SUM)),
    "*":   ArrayOp(_infix("*", PRODUCT)),
    "/":   ArrayOp(_calls("div"), lambda np: {"div": np.divide}, local=_div_local),
    "**":  ArrayOp(_calls("power"), lambda np: {"power": np.power}),
    "pow": ArrayOp(_calls("power"), lambda np: {"power": np.power}, local=_pow_local),
    "neg": ArrayOp(_neg),
    "abs": ArrayOp(_calls("abs"), lambda np: {"abs": np.abs}, local=_abs_local),
    "exp": ArrayOp(_calls("exp"), lambda np: {"exp": np.exp}),
    "log": ArrayOp(_calls("log"), lambda np: {"log": np.log}, local=_log_local),
    "sqrt": ArrayOp(_calls("sqrt"), lambda np: {"sqrt": np.sqrt}),
    "sin": ArrayOp(_calls("sin"), lambda np: {"sin": np.sin}),
    "cos": ArrayOp(_calls("cos"), lambda np: {"cos": np.cos}),
    "tanh": ArrayOp(_calls("tanh"), lambda np: {"tanh": np.tanh}),
    "sigmoid": ArrayOp(_calls("sigmoid"), _np_sigmoid),
    "relu": ArrayOp(_calls("relu"), lambda np: {"relu": lambda x: np.where(x <= 0, 0.0, x)}),
    "leaky_relu": ArrayOp(_calls("leaky_relu"),
                          lambda np: {"leaky_relu": lambda x, s: np.where(x > 0, x, s * x)}),
    "sum": ArrayOp(_sum, _np_sum_rows, over_rows=OverRows(_calls("sum_rows"))),
    "max_shift": ArrayOp(_calls("max_shift"), _np_max_shift,
                         over_rows=OverRows(_calls("max_shift_rows"))),
    "affine": ArrayOp(_affine, _np_sum_rows, groups=AffineGroups(),
                      over_rows=OverRows(lambda W, X, b: call("sum_rows", W * X, b),
                                         AffineGroups().split)),
}
# fmt: on

FLOAT_HELPERS: dict[str, object] = {
    "div": ieee.div, "reciprocal": reciprocal, "power": ieee.power, "log": ieee.log,
    "exp": ieee.exp, "sqrt": ieee.sqrt,
    "sin": ieee.sin, "cos": ieee.cos, "tanh": ieee.tanh, "sign": ieee.sign,
    "where": lambda condition, if_true, if_false: if_true if condition else if_false,
    "inf": math.inf, "nan": math.nan,
}
"""What the rules' text calls, on floats: the IEEE functions the helpers of
``engine.derivatives`` call on floats, and ``where``."""


def float_functions() -> dict[str, object]:
    """The one-sample program's namespace: the rules' helpers, and each op's own float forward
    under the name its text calls (``tanh`` is ``OPS["tanh"].forward``)."""
    names = dict(FLOAT_HELPERS)
    for op, row in ARRAY_OPS.items():
        text = row.forward(*[Symbol(f"x{i}") for i in range(_arity(op))]).text
        if "(" in text and not text.startswith("("):
            names[text.split("(")[0]] = OPS[op].forward
    names["leaky_relu"] = leaky_relu
    return names


def _arity(op: str) -> int:
    arity = OPS[op].arity
    return 3 if arity is None else arity


def numpy_functions() -> dict[str, object]:
    """The batch program's namespace: NumPy forms of the rules' helpers and of every row's
    functions. ``sign`` gives +0.0 at -0.0, as ``ieee.sign`` does."""
    import numpy as np

    names: dict[str, object] = {
        "np": np, "div": np.divide, **_np_reciprocal(np),
        "power": np.power, "log": np.log, "exp": np.exp,
        "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
        "sign": lambda x: np.sign(x) + 0.0, "where": np.where, "inf": math.inf, "nan": math.nan,
    }
    for row in ARRAY_OPS.values():
        names.update(row.numpy(np))
    return names
