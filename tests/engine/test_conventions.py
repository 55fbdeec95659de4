"""The numerical conventions (docs/conventions.md), one exact test each: IEEE values, PyTorch's
subgradients, never a Python exception and never a complex number."""

import math

import pytest

from engine import Value

inf, nan = math.inf, math.nan


def value_and_grads(f, *xs):
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    out.backward()
    return (out.data, *[leaf.grad for leaf in leaves])


def same(a, b):
    """Equal, with nan equal to nan and the sign of zero ignored."""
    return (math.isnan(a) and math.isnan(b)) or a == b


# (what, function, inputs, expected value, expected grads): from the convention table
CASES = [
    ("log(0)", lambda x: x.log(), (0.0,), -inf, (inf,)),
    ("log(-1)", lambda x: x.log(), (-1.0,), nan, (-1.0,)),
    ("exp(1000)", lambda x: x.exp(), (1000.0,), inf, (inf,)),
    ("exp(-1000)", lambda x: x.exp(), (-1000.0,), 0.0, (0.0,)),
    ("1/0", lambda x, y: x / y, (1.0, 0.0), inf, (inf, -inf)),
    ("-1/0", lambda x, y: x / y, (-1.0, 0.0), -inf, (inf, inf)),
    ("0/0", lambda x, y: x / y, (0.0, 0.0), nan, (inf, nan)),
    ("(-2) ** 0.5", lambda x: x ** 0.5, (-2.0,), nan, (nan,)),
    ("(-8) ** (1/3)", lambda x: x ** (1 / 3), (-8.0,), nan, (nan,)),
    ("(-2) ** 2", lambda x: x ** 2, (-2.0,), 4.0, (-4.0,)),
    ("(-2) ** 3", lambda x: x ** 3, (-2.0,), -8.0, (12.0,)),
    ("0 ** 0", lambda x: x ** 0, (0.0,), 1.0, (0.0,)),
    ("5 ** 0", lambda x: x ** 0, (5.0,), 1.0, (0.0,)),
    ("0 ** 1", lambda x: x ** 1, (0.0,), 0.0, (1.0,)),
    ("0 ** 2", lambda x: x ** 2, (0.0,), 0.0, (0.0,)),
    ("0 ** 0.5", lambda x: x ** 0.5, (0.0,), 0.0, (inf,)),
    ("0 ** -1", lambda x: x ** -1, (0.0,), inf, (-inf,)),
    ("10 ** 400", lambda x: x ** 400, (10.0,), inf, (inf,)),
    ("Value ** Value at base 0, exponent 0", lambda x, y: x ** y, (0.0, 0.0), 1.0, (0.0, 0.0)),
    ("Value ** Value at base 0, exponent 2", lambda x, y: x ** y, (0.0, 2.0), 0.0, (0.0, 0.0)),
    ("Value ** Value at base -2, exponent 2", lambda x, y: x ** y, (-2.0, 2.0), 4.0, (-4.0, nan)),
    ("sqrt(0)", lambda x: x.sqrt(), (0.0,), 0.0, (inf,)),
    ("sqrt(-1)", lambda x: x.sqrt(), (-1.0,), nan, (nan,)),
    ("sin(inf)", lambda x: x.sin(), (inf,), nan, (nan,)),
    ("cos(-inf)", lambda x: x.cos(), (-inf,), nan, (nan,)),
    ("tanh(1000)", lambda x: x.tanh(), (1000.0,), 1.0, (0.0,)),
    ("tanh(-1000)", lambda x: x.tanh(), (-1000.0,), -1.0, (0.0,)),
    ("sigmoid(1000)", lambda x: x.sigmoid(), (1000.0,), 1.0, (0.0,)),
    ("sigmoid(-1000)", lambda x: x.sigmoid(), (-1000.0,), 0.0, (0.0,)),
    ("relu(0)", lambda x: x.relu(), (0.0,), 0.0, (0.0,)),
    ("relu(1e-300)", lambda x: x.relu(), (1e-300,), 1e-300, (1.0,)),
    ("abs(0)", lambda x: abs(x), (0.0,), 0.0, (0.0,)),
    ("abs(-0.0)", lambda x: abs(x), (-0.0,), 0.0, (0.0,)),
    ("leaky_relu(0)", lambda x: x.leaky_relu(), (0.0,), 0.0, (0.01,)),
    ("x - x", lambda x: x - x, (2.0,), 0.0, (0.0,)),
    ("x / x", lambda x: x / x, (2.0,), 1.0, (0.0,)),
    ("a * a", lambda x: x * x, (3.0,), 9.0, (6.0,)),
    ("a + a", lambda x: x + x, (3.0,), 6.0, (2.0,)),
    ("diamond (a+1)*(a*2)", lambda x: (x + 1) * (x * 2), (3.0,), 24.0, (14.0,)),
    ("nan * 0", lambda x, y: x * y, (nan, 0.0), nan, (0.0, nan)),
    ("inf - inf", lambda x, y: x - y, (inf, inf), nan, (1.0, -1.0)),
    ("exp(1000) * 0", lambda x, y: x.exp() * y, (1000.0, 0.0), nan, (nan, inf)),
]


@pytest.mark.parametrize(("what", "f", "xs", "value", "grads"), CASES, ids=[c[0] for c in CASES])
def test_convention(what, f, xs, value, grads):
    got = value_and_grads(f, *xs)
    assert same(got[0], value), f"{what}: value {got[0]}, expected {value}"
    for i, (g, e) in enumerate(zip(got[1:], grads, strict=True)):
        assert same(g, e), f"{what}: grad of operand {i} is {g}, expected {e}"
    assert all(type(x) is float for x in got)  # never complex, never int


def test_signed_zero_poles():
    assert (Value(1.0) / -0.0).data == -inf
    assert (Value(-0.0) ** -1).data == -inf
    assert (Value(-0.0) ** -2).data == inf
