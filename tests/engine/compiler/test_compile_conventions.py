"""The compiled programs keep docs/conventions.md: each row's value and gradients (written here
from the table, not from our output), in the one-sample program and on a batch of two."""

from __future__ import annotations

import math

import numpy as np
import pytest

import engine
from engine import Value

inf, nan = math.inf, math.nan

# (name, f of the operands, operands, value, gradients): the rows of docs/conventions.md
ROWS = [
    ("log(0)", lambda a: a.log(), [0.0], -inf, [inf]),
    ("log(-1)", lambda a: a.log(), [-1.0], nan, [-1.0]),
    ("exp(1000)", lambda a: a.exp(), [1000.0], inf, [inf]),
    ("exp(-1000)", lambda a: a.exp(), [-1000.0], 0.0, [0.0]),
    ("1 / 0", lambda a, b: a / b, [1.0, 0.0], inf, [inf, -inf]),
    ("-1 / 0", lambda a, b: a / b, [-1.0, 0.0], -inf, [inf, inf]),
    ("0 / 0", lambda a, b: a / b, [0.0, 0.0], nan, [inf, nan]),
    ("(-2) ** 0.5", lambda a: a ** 0.5, [-2.0], nan, [nan]),
    ("(-2) ** 2", lambda a: a ** 2, [-2.0], 4.0, [-4.0]),
    ("(-2) ** 3", lambda a: a ** 3, [-2.0], -8.0, [12.0]),
    ("x ** 0 at 0", lambda a: a ** 0, [0.0], 1.0, [0.0]),
    ("x ** 0 at 5", lambda a: a ** 0, [5.0], 1.0, [0.0]),
    ("0 ** 0.5", lambda a: a ** 0.5, [0.0], 0.0, [inf]),
    ("0 ** -1", lambda a: a ** -1, [0.0], inf, [-inf]),
    ("x ** y at 0, 0", lambda a, b: a ** b, [0.0, 0.0], 1.0, [0.0, 0.0]),
    ("x ** y at 0, 2", lambda a, b: a ** b, [0.0, 2.0], 0.0, [0.0, 0.0]),
    ("x ** y at -2, 2", lambda a, b: a ** b, [-2.0, 2.0], 4.0, [-4.0, nan]),
    ("x ** y at 0, nan", lambda a, b: a ** b, [0.0, nan], nan, [nan, nan]),
    ("sqrt(0)", lambda a: a.sqrt(), [0.0], 0.0, [inf]),
    ("sqrt(-1)", lambda a: a.sqrt(), [-1.0], nan, [nan]),
    ("sin(inf)", lambda a: a.sin(), [inf], nan, [nan]),
    ("cos(-inf)", lambda a: a.cos(), [-inf], nan, [nan]),
    ("tanh(1000)", lambda a: a.tanh(), [1000.0], 1.0, [0.0]),
    ("tanh(-1000)", lambda a: a.tanh(), [-1000.0], -1.0, [0.0]),
    ("sigmoid(1000)", lambda a: a.sigmoid(), [1000.0], 1.0, [0.0]),
    ("sigmoid(-1000)", lambda a: a.sigmoid(), [-1000.0], 0.0, [0.0]),
    ("relu(0)", lambda a: a.relu(), [0.0], 0.0, [0.0]),
    ("relu'(nan)", lambda a: a.relu(), [nan], nan, [1.0]),
    ("abs(0)", lambda a: abs(a), [0.0], 0.0, [0.0]),
    ("abs(-0.0)", lambda a: abs(a), [-0.0], 0.0, [0.0]),
    ("abs'(nan)", lambda a: abs(a), [nan], nan, [nan]),
    ("leaky_relu(0, slope)", lambda a: a.leaky_relu(0.25), [0.0], 0.0, [0.25]),
    ("nan * 0", lambda a, b: a * b, [nan, 0.0], nan, [0.0, nan]),
    ("inf - inf", lambda a, b: a - b, [inf, inf], nan, [1.0, -1.0]),
]


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize(("name", "op", "operands", "value", "gradients"), ROWS,
                         ids=[row[0] for row in ROWS])
def test_each_row_of_the_conventions_holds_in_both_programs(name, op, operands, value,
                                                            gradients):
    # each operand is a parameter plus an input: at the parameter 0 and the input the row's
    # number, d/d(parameter) is the row's gradient (0 + x is x for every x, even -0.0 aside)
    params = [Value(0.0) for _ in operands]

    def f(x):
        return op(*[p + xi for p, xi in zip(params, x, strict=True)])

    step = engine.compile(f, [1.0] * len(operands), params=params)
    for p in params:
        p.grad = 0.0
    assert same(step.backward(list(operands)), value), step.source
    assert all(map(same, [p.grad for p in params], gradients)), step.source
    for p in params:
        p.grad = 0.0
    outputs = step.backward(np.array([operands, operands]))
    assert all(same(o, value) for o in outputs), step.batch_source
    assert all(map(same, [p.grad for p in params], [2 * g for g in gradients])), \
        step.batch_source


@pytest.mark.parametrize("op", ["/", "log"])
def test_a_subnormal_divisor_gives_backwards_gradient_in_both_programs(op):
    """d(x / y)/dx times g is g / y, not (1 / y) * g, where 1 / y overflows (a subnormal y), and
    so for log: 1e-20 / 1e-310 = 1e290 by hand (PyTorch too), where the product would give inf."""

    def loss(w, y):
        return (w / y) * 1e-20 if op == "/" else (w * y).log() * 1e-20

    example = 1e-310 if op == "/" else 1e-10  # log: w * y = 1e-310
    by_hand = 1e-20 / 1e-310 if op == "/" else 1e-10 * (1e-20 / 1e-310)
    w, v = Value(1e-300), Value(1e-300)
    step = engine.compile(lambda y: loss(w, y), example, params=[w])
    step.backward(example)
    loss(v, Value(example)).backward()
    assert w.grad == v.grad == pytest.approx(by_hand, rel=1e-12)
    w.grad = 0.0  # a batch of the subnormal and an ordinary divisor: g / y and (1 / y) g
    step.backward(np.array([example, 0.5]))
    ordinary = Value(1e-300)
    loss(ordinary, Value(0.5)).backward()
    assert w.grad == pytest.approx(by_hand + ordinary.grad, rel=1e-12)
