"""What each operation of the table is in PyTorch: one row per op, ``TORCH[name](torch, *xs)``.

The table of operations (``engine.derivatives.OPS``) says what an op computes and its local
derivatives; how another interpreter spells it lives with that interpreter, one row per op (as
the compiler keeps its array forms). A registered op brings its row as ``Op(..., torch=...)``,
or ``TORCH[name] = ...`` adds one; ``translation`` reads the op's own first, so a test can
plant a wrong one in an entry (``engine.testing.planted``).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.derivatives import OPS, affine_width


def _affine(t, *wxb):
    n = affine_width(len(wxb))
    out = wxb[-1]
    for w, x in zip(wxb[:n], wxb[n:-1], strict=True):
        out = out + w * x  # not +=: that would change the bias tensor in place
    return out


def _max_shift(t, *xs):
    largest = t.stack(xs).max().detach()  # the shift passes no gradient, by definition
    return t.where(t.isfinite(largest), largest, t.zeros_like(largest))


# fmt: off
TORCH: dict[str, Callable[..., object]] = {
    "+":          lambda t, x, y: x + y,
    "-":          lambda t, x, y: x - y,
    "*":          lambda t, x, y: x * y,
    "/":          lambda t, x, y: x / y,
    "**":         lambda t, x, c: x ** c,
    "pow":        lambda t, x, y: t.pow(x, y),
    "neg":        lambda t, x: -x,
    "abs":        lambda t, x: t.abs(x),
    "exp":        lambda t, x: t.exp(x),
    "log":        lambda t, x: t.log(x),
    "sqrt":       lambda t, x: t.sqrt(x),
    "sin":        lambda t, x: t.sin(x),
    "cos":        lambda t, x: t.cos(x),
    "tanh":       lambda t, x: t.tanh(x),
    "sigmoid":    lambda t, x: t.sigmoid(x),
    "relu":       lambda t, x: t.relu(x),
    "leaky_relu": lambda t, x, slope: t.nn.functional.leaky_relu(x, slope),
    "sum":        lambda t, *xs: sum(xs[1:], xs[0]) if xs else t.tensor(0.0, dtype=t.float64),
    "max_shift":  _max_shift,
    "affine":     _affine,
}
# fmt: on


def translation(name: str) -> Callable[..., object] | None:
    """The PyTorch row of the operation ``name``: its entry's own ``torch`` (a registered op's,
    or one a test planted), else ``TORCH``'s; None if neither has one."""
    entry = OPS.get(name)
    if entry is not None and entry.torch is not None:
        return entry.torch
    return TORCH.get(name)
