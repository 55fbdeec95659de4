"""Every operation's local derivatives against central differences of its forward function.

The oracle never touches the derivative table or the backward pass: it evaluates the op's float
forward function at x - h and x + h, with a relative step h = 1e-6 * max(1, |x|).
"""

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from engine import Value, apply
from engine.derivatives import NONZERO, OPS, POSITIVE

REAL_RANGE = st.floats(-4.0, 4.0)
EXPONENTS = st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0])


def operand(kind):
    if kind == POSITIVE:
        return st.floats(0.1, 4.0)
    if kind == NONZERO:
        return st.floats(0.1, 4.0).flatmap(lambda m: st.sampled_from([m, -m]))
    return REAL_RANGE


def point_for(name):
    """A strategy of operand tuples inside the op's domain, away from its kinks."""
    op = OPS[name]
    if op.arity is None:
        n = 7 if name == "affine" else 4  # affine: 3 weights, 3 inputs, 1 bias
        return st.tuples(*[REAL_RANGE] * n)
    parts = []
    for i in range(op.arity):
        if i in op.constants:
            parts.append(EXPONENTS if name == "**" else st.floats(0.01, 0.5))
        else:
            parts.append(operand(op.domain[i] if i < len(op.domain) else "real"))
    return st.tuples(*parts)


def central_difference(forward, point, i):
    x = point[i]
    h = 1e-6 * max(1.0, abs(x))
    up, down = list(point), list(point)
    up[i], down[i] = x + h, x - h
    return (forward(*up) - forward(*down)) / (2 * h)


@pytest.mark.parametrize("name", sorted(name for name, op in OPS.items() if op.smooth))
def test_local_derivatives_match_central_differences(name):
    op = OPS[name]

    @given(point_for(name))
    def check(point):
        for kink in op.kinks:
            assume(abs(point[0] - kink) > 1e-3)
        leaves = [Value(x) for x in point]
        out = apply(name, *leaves)
        out.backward()
        for i, leaf in enumerate(leaves):
            if i in op.constants:
                assert leaf.grad == 0.0  # no gradient flows to a fixed parameter
                continue
            numeric = central_difference(op.forward, point, i)
            assert leaf.grad == pytest.approx(numeric, rel=1e-5, abs=1e-6), (name, point, i)

    check()


def test_the_only_op_finite_differences_cannot_check_is_max_shift():
    assert [name for name, op in OPS.items() if not op.smooth] == ["max_shift"]


@given(st.lists(REAL_RANGE, min_size=1, max_size=5))
def test_max_shift_is_the_largest_operand_and_passes_no_gradient(xs):
    """Its value is max's; its derivatives are 0 by definition (log-sum-exp's shift cancels)."""
    leaves = [Value(x) for x in xs]
    out = apply("max_shift", *leaves) * 3.0
    out.backward()
    assert out.data == 3.0 * max(xs)
    assert [leaf.grad for leaf in leaves] == [0.0] * len(xs)


@pytest.mark.parametrize("xs", [(1.0, math.inf), (-math.inf, -math.inf), (math.nan, 2.0)])
def test_max_shift_of_inf_or_nan_is_zero(xs):
    assert apply("max_shift", *xs).data == 0.0


@given(st.floats(-3, 3), st.floats(-3, 3))
def test_hand_derived_derivatives(x, y):
    """A few rules against derivatives written out by hand (a second, symbolic oracle)."""
    a, b = Value(x), Value(y)
    (a * b + a.tanh() * b.sigmoid()).backward()
    s = 1 / (1 + math.exp(-y))
    assert a.grad == pytest.approx(y + (1 - math.tanh(x) ** 2) * s)
    assert b.grad == pytest.approx(x + math.tanh(x) * s * (1 - s))


def test_a_registered_three_operand_op_keeps_its_operands_in_order_and_its_gradients():
    """A node of more than two operands keeps them in a tuple (see Value): d(xy + z) by hand."""
    from engine.derivatives import Op, register, unregister

    register("fma", Op(lambda x, y, z: x * y + z, lambda x, y, z, out: (y, x, 1.0), 3))
    try:
        x, y, z = Value(2.0), Value(-3.0), Value(0.5)
        out = apply("fma", x, y, z) * x
        assert out.parents[0].parents == (x, y, z)
        out.backward()
        assert (x.grad, y.grad, z.grad) == (2 * 2.0 * -3.0 + 0.5, 2.0 * 2.0, 2.0)
    finally:
        unregister("fma")


def test_store_is_refused_for_an_op_of_one_or_two_operands():
    from engine.derivatives import Op, register

    with pytest.raises(ValueError, match=r"'pair'.*2 operand"):
        register("pair", Op(lambda x, y: x + y, (1.0, 1.0), 2,
                            store=lambda xs: (xs, ()), operands=lambda x, y: x))
    assert "pair" not in OPS


def test_each_operation_is_one_line_of_the_table():
    """The module's first line promises it: one row per op. What other interpreters need lives in
    their own tables (PyTorch's in engine.testing.torch_ops), one row per op too."""
    import ast
    from pathlib import Path

    from engine.testing.torch_ops import TORCH

    source = Path(__file__).resolve().parents[2] / "engine" / "derivatives.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    (table,) = [node.value for node in ast.walk(tree) if isinstance(node, ast.AnnAssign)
                and getattr(node.target, "id", "") == "OPS"]
    rows = {ast.literal_eval(k): (v.lineno, v.end_lineno)
            for k, v in zip(table.keys, table.values, strict=True)}
    assert rows and all(first == last for first, last in rows.values()), rows
    assert set(rows) <= set(TORCH)  # every built-in op has its PyTorch row
    assert all(OPS[name].torch is None for name in rows)  # and none in the table
