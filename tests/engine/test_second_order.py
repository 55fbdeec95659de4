"""Derivatives of derivatives: backward(create_graph=True), engine.grad, the functional helpers
(hessian, hvp, jacobian, jvp) and gradgradcheck, against hand derivations and differences of
first derivatives."""

from __future__ import annotations

import gc
import math
from pathlib import Path

import pytest
from dot_structure import VALUE, parse
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine import (
    Value,
    ancestors,
    apply,
    detect_anomaly,
    draw_graph,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    no_grad,
)
from engine.derivatives import Op, register, unregister
from engine.testing import (
    GradcheckError,
    assert_second_derivatives_match_numeric,
    gradgradcheck,
    planted,
    registered,
)
from engine.testing.strategies import finite_floats, graphs


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(b))


def second(f, x: float) -> float:
    """f''(x) by backward(create_graph=True), then x.grad.backward()."""
    leaf = Value(x)
    f(leaf).backward(create_graph=True)
    first = leaf.grad
    leaf.grad = 0.0
    first.backward()
    return leaf.grad


# -- every op of the table: second derivatives by hand ------------------------------------------

def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


UNARY_SECOND = {  # op: (f, f'' by hand, points)
    "exp": (Value.exp, math.exp, (-1.3, 0.4, 2.0)),
    "log": (Value.log, lambda x: -1 / x ** 2, (0.3, 1.7)),
    "sqrt": (Value.sqrt, lambda x: -0.25 * x ** -1.5, (0.3, 2.5)),
    "tanh": (Value.tanh, lambda x: -2 * math.tanh(x) * (1 - math.tanh(x) ** 2), (-0.8, 0.5)),
    "sigmoid": (Value.sigmoid,
                lambda x: _sigmoid(x) * (1 - _sigmoid(x)) * (1 - 2 * _sigmoid(x)), (-1.1, 0.7)),
    "relu": (Value.relu, lambda x: 0.0, (-0.5, 0.5)),
    "abs": (abs, lambda x: 0.0, (-0.5, 0.5)),
    "leaky_relu": (lambda v: v.leaky_relu(0.1), lambda x: 0.0, (-0.5, 0.5)),
    "neg": (lambda v: -v, lambda x: 0.0, (0.3,)),
    "**": (lambda v: v ** 3, lambda x: 6 * x, (-1.5, 0.7)),  # a negative base too
    "sum": (lambda v: Value.sum([v, v * 2.0, Value(1.0)]), lambda x: 0.0, (0.3,)),
}


@pytest.mark.parametrize("op", sorted(UNARY_SECOND))
def test_each_op_has_its_hand_derived_second_derivative(op):
    f, f2, points = UNARY_SECOND[op]
    for x in points:
        assert close(second(f, x), f2(x)), (op, x)


def test_power_of_a_negative_base_makes_no_log_node_and_no_nan():
    x = Value(-1.5)
    (x ** 2).backward(create_graph=True)
    assert all(v.op != "pow" for v in ancestors(x.grad))  # the exponent stays a number
    with detect_anomaly():  # no nan anywhere, not even in a constant's grad
        y = Value(-1.5)
        (y ** 2).backward(create_graph=True)
        g = y.grad
        y.grad = 0.0
        g.backward()
    assert y.grad == 2.0


def test_binary_ops_have_their_hand_derived_hessians():
    x, y = 0.7, 1.9
    ln = math.log(x)
    cases = {
        "*": (lambda a, b: a * b, [[0, 1], [1, 0]]),
        "+": (lambda a, b: a + b, [[0, 0], [0, 0]]),
        "-": (lambda a, b: a - b, [[0, 0], [0, 0]]),
        "/": (lambda a, b: a / b, [[0, -1 / y ** 2], [-1 / y ** 2, 2 * x / y ** 3]]),
        "pow": (lambda a, b: a ** b,
                [[y * (y - 1) * x ** (y - 2), x ** (y - 1) * (1 + y * ln)],
                 [x ** (y - 1) * (1 + y * ln), x ** y * ln ** 2]]),
        "affine": (lambda a, b: Value.affine([a], [b], Value(0.3)), [[0, 1], [1, 0]]),
    }
    for op, (f, expected) in cases.items():
        H = hessian(f, x, y)
        for row, want in zip(H, expected, strict=True):
            assert all(close(a, b) for a, b in zip(row, want, strict=True)), (op, H, expected)


def test_third_derivative_by_building_the_graph_twice():
    x = Value(0.6)
    (x ** 4).backward(create_graph=True)
    d1 = x.grad
    x.grad = 0.0
    d1.backward(create_graph=True)
    d2 = x.grad
    x.grad = 0.0
    d2.backward()
    assert close(d1.data, 4 * 0.6 ** 3) and close(d2.data, 12 * 0.6 ** 2)
    assert close(x.grad, 24 * 0.6)


# -- closed-form Hessians ------------------------------------------------------------------------

A = [[2.0, -1.0, 0.5], [-1.0, 3.0, 0.25], [0.5, 0.25, 1.5]]
B = [0.3, -0.2, 1.0]


def quadratic(*xs):
    """0.5 x^T A x + b . x: its Hessian is A."""
    total = Value.sum([0.5 * A[i][j] * xs[i] * xs[j] for i in range(3) for j in range(3)])
    return total + Value.sum([b * x for b, x in zip(B, xs, strict=True)])


def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def logsumexp(*xs):
    return Value.sum([x.exp() for x in xs]).log()


@given(st.lists(finite_floats(-2, 2), min_size=3, max_size=3))
def test_hessian_of_a_quadratic_is_its_matrix(point):
    H = hessian(quadratic, *point)
    assert all(close(H[i][j], A[i][j]) for i in range(3) for j in range(3))


@given(finite_floats(-2, 2), finite_floats(-1, 3))
def test_hessian_of_rosenbrock_is_the_hand_derived_one(x, y):
    expected = [[2 - 400 * (y - x * x) + 800 * x * x, -400 * x], [-400 * x, 200.0]]
    H = hessian(rosenbrock, x, y)
    assert all(close(H[i][j], expected[i][j]) for i in range(2) for j in range(2))


@given(st.lists(finite_floats(-3, 3), min_size=1, max_size=4))
def test_hessian_of_logsumexp_is_diag_p_minus_p_pT(point):
    e = [math.exp(x) for x in point]
    p = [v / sum(e) for v in e]
    H = hessian(logsumexp, *point)
    n = len(point)
    assert all(close(H[i][j], (p[i] if i == j else 0.0) - p[i] * p[j])
               for i in range(n) for j in range(n))


def test_hvp_is_the_hessian_times_v_and_jacobian_the_matrix_of_partials():
    point, v = [-1.2, 1.0], [0.5, -2.0]
    H = hessian(rosenbrock, *point)
    expected = [sum(H[i][j] * v[j] for j in range(2)) for i in range(2)]
    assert all(close(a, b) for a, b in zip(hvp(rosenbrock, point, v), expected, strict=True))
    J = jacobian(lambda x, y: [x * y, x + y, x ** 3, y.exp()], 0.3, -0.7)
    expected = [[-0.7, 0.3], [1.0, 1.0], [3 * 0.09, 0.0], [0.0, math.exp(-0.7)]]
    for row, want in zip(J, expected, strict=True):
        assert row == pytest.approx(want, rel=1e-12)
    assert jacobian(lambda x: x * x, 3.0) == [[6.0]]  # one Value: one row


# -- random graphs of every op ---------------------------------------------------------------------

SECOND_ORDER = {"eps": 1e-6, "method": "central", "rtol": 1e-6, "atol": 1e-6}


@given(graphs())
def test_second_derivatives_of_random_graphs_match_differences_of_first_derivatives(program):
    assert_second_derivatives_match_numeric(program, **SECOND_ORDER)


@given(graphs(ops=["+", "*", "tanh", "sum", "affine"], max_nodes=10))
def test_second_derivatives_through_shared_nodes_and_n_ary_ops(program):
    assert_second_derivatives_match_numeric(program, **SECOND_ORDER)


@given(graphs(), st.data())
def test_jvp_is_the_reverse_mode_gradient_dotted_with_the_tangent(program, data):
    tangent = [data.draw(finite_floats(-2, 2)) for _ in program.point]
    value, derivative = jvp(program, program.point, tangent)
    leaves = [Value(x) for x in program.point]
    out = program(*leaves)
    out.backward()
    expected = math.fsum(x.grad * t for x, t in zip(leaves, tangent, strict=True))
    scale = math.fsum(abs(x.grad * t) for x, t in zip(leaves, tangent, strict=True))
    assert value == out.data
    assert abs(derivative - expected) <= 1e-6 * max(scale, abs(expected)) + 1e-9  # cancellation


def test_jvp_of_a_function_with_several_outputs_gives_each_derivative():
    values, tangents = jvp(lambda t: [t * t, t.exp(), 3.0 * t], [0.5], [2.0])
    assert values == pytest.approx([0.25, math.exp(0.5), 1.5])
    assert tangents == pytest.approx([2.0, 2 * math.exp(0.5), 6.0])


# -- backward(create_graph=True): PyTorch's semantics ------------------------------------------


def test_without_create_graph_grads_are_floats_and_the_same_numbers():
    def f(x, y):
        return (x * y).tanh() + x / y + Value.affine([x, y], [y, x], 0.5).sigmoid()

    x, y = Value(0.4), Value(-1.3)
    f(x, y).backward()
    assert type(x.grad) is float and type(y.grad) is float
    a, b = Value(0.4), Value(-1.3)
    f(a, b).backward(create_graph=True)
    assert type(a.grad) is Value and type(b.grad) is Value
    assert close(a.grad.data, x.grad, 1e-14) and close(b.grad.data, y.grad, 1e-14)


def test_create_graph_grads_accumulate_as_values_and_zero_grad_resets_them():
    x = Value(0.5)
    y = x * x * x
    y.backward(create_graph=True)
    y.backward(create_graph=True)
    assert type(x.grad) is Value and close(x.grad.data, 2 * 3 * 0.25)
    g = x.grad
    x.grad = 0.0
    g.backward()
    assert close(x.grad, 2 * 6 * 0.5)  # d/dx of 2 * 3x^2
    z = Value(2.0)
    w = z * z
    w.backward()  # a float first ...
    w.backward(create_graph=True)  # ... then a Value: float + Value
    assert type(z.grad) is Value and z.grad.data == 8.0
    w.zero_grad()
    assert z.grad == 0.0 and type(z.grad) is float and w.grad == 0.0


def test_a_value_seed_is_part_of_the_gradient_graph():
    x, s = Value(1.5), Value(2.0)
    (x * x).backward(s, create_graph=True)
    assert x.grad.data == 6.0
    assert s in ancestors(x.grad)
    assert grad(x.grad, [x, s]) == (4.0, 3.0)  # d(2 s x)/dx = 2 s, d/ds = 2 x


def test_create_graph_under_no_grad_still_records_the_gradient_graph():
    """create_graph asks for the gradients' graph, so no_grad does not stop it: PyTorch 2.x gives
    x.grad a grad_fn there too, and the second derivative d(1 - tanh^2)/dx = -2 tanh (1 - tanh^2)
    (by hand). Before, x.grad was a bare number and its derivative silently 0."""
    x = Value(0.5)
    y = x.tanh()
    with no_grad():
        y.backward(create_graph=True)
    assert type(x.grad) is Value and x.grad.parents != ()
    assert close(x.grad.data, 1 - math.tanh(0.5) ** 2)
    t = math.tanh(0.5)
    assert close(grad(x.grad, [x])[0], -2 * t * (1 - t * t))


def test_engine_grad_with_create_graph_inside_no_grad_differentiates_again():
    """#20's reproducer: d(a^3)/da = 3a^2, whose derivative is 6a = 6 at a = 1 (PyTorch: 6)."""
    a = Value(1.0)
    y = a * a * a
    with no_grad():
        (g,) = grad(y, [a], create_graph=True)
    assert g.data == 3.0 and grad(g, [a]) == (6.0,)
    with no_grad(), pytest.raises(ValueError, match="leaves computed inside no_grad"):
        grad(a * a * a, [a], create_graph=True)  # PyTorch: "does not require grad"


def test_detect_anomaly_names_the_backward_step_of_a_create_graph_pass():
    x = Value(0.0)
    y = x.sqrt()  # its derivative is inf at 0
    with detect_anomaly(), pytest.raises(FloatingPointError, match="backward through sqrt"):
        y.backward(create_graph=True)


def test_a_deep_chain_differentiates_twice_without_recursion():
    x = Value(0.3)
    y = x
    for _ in range(20_000):
        y = y * 1.0001
    y.backward(create_graph=True)
    d1 = x.grad
    x.grad = 0.0
    d1.backward()
    assert close(d1.data, 1.0001 ** 20_000, 1e-9) and x.grad == 0.0  # linear: f'' = 0


# -- engine.grad --------------------------------------------------------------------------------


def test_grad_leaves_every_grad_as_it_was_and_gives_0_to_unused_inputs():
    x, y, unused = Value(0.5), Value(-2.0), Value(3.0)
    out = x * y + x.exp()
    inner = out.parents[0]
    for v in (x, y, unused, out, inner):
        v.grad = 7.0
    dx, dy, du = grad(out, [x, y, unused])
    assert (dx, dy, du) == (pytest.approx(-2.0 + math.exp(0.5)), 0.5, 0.0)
    assert all(v.grad == 7.0 for v in (x, y, unused, out, inner))
    gx, gu = grad(out, [x, unused], create_graph=True)
    assert type(gx) is Value and type(gu) is Value and gu.data == 0.0
    assert x.grad == 7.0


def test_grad_of_several_outputs_sums_them_weighted_by_grad_outputs():
    x, y = Value(0.5), Value(-2.0)
    a, b = x * y, x.tanh() + y
    (ga,) = grad(a, [x])
    (gb,) = grad(b, [x])
    (g,) = grad([a, b], [x], grad_outputs=[2.0, -3.0])
    assert close(g, 2.0 * ga - 3.0 * gb)
    assert grad(a, [a, x]) == (1.0, -2.0)  # an interior input, and the output itself


def test_grad_refuses_bad_arguments_by_name():
    x = Value(1.0)
    with pytest.raises(TypeError, match="outputs must be a Value"):
        grad(1.0, [x])
    with pytest.raises(TypeError, match="inputs must be Values: entry 1"):
        grad(x * x, [x, 2.0])
    with pytest.raises(ValueError, match="grad_outputs has 2 entries for 1 outputs"):
        grad(x * x, x, grad_outputs=[1.0, 2.0])
    with pytest.raises(ValueError, match="one entry of v per input"):
        hvp(rosenbrock, [1.0, 1.0], [1.0])
    with pytest.raises(TypeError, match="f must return one Value"):
        hessian(lambda x: 3.0, 1.0)


def test_helpers_record_the_graph_even_inside_no_grad():
    with no_grad():
        assert hessian(lambda x: x ** 3, 2.0) == [[12.0]]
        assert jvp(lambda x: x ** 3, [2.0], [1.0]) == (8.0, 12.0)


# -- graphs built for gradients die by reference counting ----------------------------------------


def live_values() -> int:
    return sum(type(o) is Value for o in gc.get_objects())


def test_gradient_graphs_are_freed_by_reference_counting():
    gc.collect()
    gc.disable()  # nothing below may rely on the cycle collector
    try:
        baseline = live_values()
        assert hessian(rosenbrock, -1.2, 1.0)
        assert hvp(logsumexp, [0.1, 0.2, 0.3], [1.0, 0.0, -1.0])
        x = Value(0.5)
        (gx,) = grad((x * x).tanh(), [x], create_graph=True)
        assert type(x.grad) is float  # grad put it back: no cycle x -> x.grad -> x
        del x, gx
        assert live_values() == baseline
    finally:
        gc.enable()


def test_backward_create_graph_makes_the_cycle_pytorch_warns_about_until_grads_are_reset():
    gc.collect()
    gc.disable()
    try:
        baseline = live_values()
        x = Value(0.5)
        y = (x * x).tanh()
        y.backward(create_graph=True)  # x.grad is a graph that uses x: a reference cycle
        y.zero_grad()  # resetting the grads breaks it
        del x, y
        assert live_values() == baseline
    finally:
        gc.enable()


# -- gradgradcheck -------------------------------------------------------------------------------


def _constant_on_values(x, out):
    """tanh's rule, right on floats but a constant on Values: first derivatives are right,
    second ones are not."""
    if type(out) is float:
        return (1.0 - out * out,)
    return (Value(1.0 - out.data * out.data),)


def test_gradgradcheck_passes_a_correct_function_with_gradchecks_report():
    result = gradgradcheck(lambda a, b: (a * b).tanh() + a ** 3 / b, 0.4, -1.3)
    assert result.ok and len(result.rows) == 4
    text = str(result)
    assert text.startswith("gradgradcheck passed for f at x0 = 0.4, x1 = -1.3")
    assert "d2f/dx0dx1" in text and "d2f/dx1^2" in text


def test_gradgradcheck_names_the_node_whose_rule_is_wrong_on_values():
    def f(a, b):
        h = (a * b).tanh()
        h.label = "h"
        return h * h + a

    gradgradcheck(f, 0.4, -1.3)
    with planted("tanh", local=_constant_on_values):
        engine.testing.gradcheck(f, 0.4, -1.3)  # first derivatives are still right
        with pytest.raises(GradcheckError) as failure:
            gradgradcheck(f, 0.4, -1.3)
    result = failure.value.result
    assert "mismatch" in result.kinds
    assert result.culprit.node == "h" and result.culprit.op == "tanh"
    assert "run on Values" in str(result.culprit)


def test_gradgradcheck_culprit_of_a_wrong_first_derivative_is_named_too():
    with planted("sigmoid", local=lambda x, out: (out,)):  # wrong even on floats
        result = gradgradcheck(lambda a: a.sigmoid() * a, 0.3, raise_exception=False)
    assert not result.ok and result.culprit.op == "sigmoid"


def test_gradgradcheck_reports_a_kink_not_a_mismatch():
    result = gradgradcheck(lambda a: a.relu() * a.relu(), 0.0, raise_exception=False)
    assert result.kinds and set(result.kinds) == {"kink"}
    assert gradgradcheck(lambda a: a.relu() * a.relu(), 0.0, allow_kinks=True).notes


def test_a_registered_op_whose_rule_cannot_run_on_values_is_named_with_the_fix():
    softplus = Op(lambda x: math.log1p(math.exp(x)),
                  lambda x, out: (1 / (1 + math.exp(-x)),), 1)
    with registered("softplus", softplus):
        x = Value(0.3)
        y = apply("softplus", x)
        y.backward()  # fine on floats
        with pytest.raises(TypeError, match=r"rule of 'softplus' cannot run on Values.*div, "
                                            r"power, log, sign"):
            y.backward(create_graph=True)


def test_a_registered_op_written_with_the_tables_helpers_gets_second_derivatives():
    softplus = Op(lambda x: math.log1p(math.exp(x)), lambda x, out: (1 - (-out).exp()
                  if type(x) is not float else 1 - math.exp(-out),), 1)
    with registered("softplus", softplus):
        s = _sigmoid(0.3)
        assert close(second(lambda v: apply("softplus", v), 0.3), s * (1 - s))
        gradgradcheck(lambda v: apply("softplus", v) * v, 0.3)


def test_pow_keeps_its_mixed_second_derivative_at_exponent_zero():
    # d/dy (y x ** (y - 1)) = x ** (y - 1) (1 + y log x) = 1 / x at y = 0
    H = hessian(lambda a, b: a ** b, 1.5, 0.0)
    assert close(H[0][1], 1 / 1.5) and close(H[1][0], 1 / 1.5)
    assert close(H[1][1], math.log(1.5) ** 2) and H[0][0] == 0.0


# -- drawings of a gradient's graph --------------------------------------------------------------


def test_draw_graph_of_a_gradient_names_what_each_node_of_the_backward_pass_is():
    x, w = Value(0.5, label="x"), Value(-1.2, label="w")
    y = (x * w).tanh() + x * x
    y.label = "y"
    y.backward(create_graph=True)
    dot = parse(draw_graph(x.grad, gradient_of=y).source)
    records = {dot.fields(n)[0]: dot.fields(n) for n, a in dot.nodes.items()
               if a["shape"] == VALUE}
    t = math.tanh(0.5 * -1.2)
    assert records["dy/dx"][1] == f"data {(1 - t * t) * -1.2 + 2 * 0.5:.4f}"  # by hand
    assert records["d(tanh(x * w))/d(x * w)"][1] == f"data {1 - t * t:.4f}"
    assert records["dy/d(x * w)"][1] == f"data {1 - t * t:.4f}"
    assert records["dy/dy"][1] == "data 1.0000"  # the seed, passed on by +
    assert records["x"][2] == f"grad {(1 - t * t) * -1.2 + 2 * 0.5:.4f}"  # a Value grad's number
    names = engine.gradient_names(y)
    assert names[y] == "y" and names[x.grad] == "dy/dx"


def test_every_node_of_a_gradients_graph_is_named_for_what_it_is():
    """dy/dx = d(tanh)/d(xw) * w * dy/dy + 2x, by hand: three terms reach x, one from x*w and
    one for each way x enters x*x, and the backward pass writes their sum as one node."""
    x, w = Value(0.5, label="x"), Value(-1.2, label="w")
    y = (x * w).tanh() + x * x
    y.label = "y"
    y.backward(create_graph=True)
    names = engine.gradient_names(y)
    interior = [v for v in engine.ancestors(x.grad) if v.parents]
    assert all(v in names for v in interior)
    t = math.tanh(0.5 * -1.2)
    assert x.grad.op == "affine"  # sum_k local_k * upstream_k, after what x.grad held (0)
    operands = x.grad.parents
    n = len(operands) // 2
    products = [a.data * b.data for a, b in zip(operands[:n], operands[n:-1], strict=True)]
    assert sorted(products) == pytest.approx(sorted([(1 - t * t) * -1.2, 0.5, 0.5]), abs=1e-15)
    assert operands[-1].data == 0.0
    assert sorted(names[v] for v in operands[:n]) == ["w", "x", "x"]  # x*w's and x*x's rules
    assert sorted(names[v] for v in operands[n:-1]) == ["dy/d(x * w)", "dy/dy", "dy/dy"]
    assert names[x.grad] == "dy/dx"
    assert any(names[v].startswith("part of d(tanh(x * w))/d(x * w)") for v in interior)


def test_a_gradients_graph_has_one_node_per_gradient_not_two_per_term():
    """A node used k times gets one gradient node for its k terms (a sum of k products would
    be 2k - 1 nodes), and a lone term 1 * dy/dn passes dy/dn on without a node."""
    x = Value(0.3, label="x")
    ys = [x * float(k) for k in range(1, 6)]
    y = Value.sum(ys)
    before = Value(0.0).created
    y.backward(create_graph=True)
    made = [v for v in engine.ancestors(x.grad) if v.created > before and v.parents]
    assert x.grad.op == "affine" and len(made) == 1  # the seed is passed on by sum unchanged
    assert x.grad.data == pytest.approx(1 + 2 + 3 + 4 + 5)


# -- what a failing or overflowing create_graph pass leaves behind --------------------------------


def test_a_leaf_gradient_that_overflows_when_summed_is_named_and_left_a_value():
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    y = a * 1e308 + a * 1e308 + b * b  # a's two terms reach inf only when they are added up
    with pytest.raises(FloatingPointError, match=r"the gradient of a = 1\.0 adds up to inf"), \
            engine.detect_anomaly():
        y.backward(create_graph=True)
    assert type(a.grad) is Value and a.grad.data == math.inf
    assert type(b.grad) is Value and b.grad.data == 4.0  # d(b*b)/db = 2b, by hand


def test_no_interior_gradient_is_left_holding_terms_after_a_rule_fails_on_values():
    def local(x, out):
        if type(x) is Value:
            raise ValueError("this rule runs on floats only")
        return (2.0,)

    register("twice_on_floats", Op(lambda x: 2 * x, local, 1))
    try:
        x = Value(0.5)
        h1 = x.tanh()
        h3 = engine.apply("twice_on_floats", h1).exp()
        with pytest.raises(TypeError, match="twice_on_floats"):
            (h3 * h3).backward(create_graph=True)
        assert type(h1.grad) in (float, Value) and type(h3.grad) is Value
    finally:
        unregister("twice_on_floats")


def test_a_registered_float_chain_rule_does_not_change_second_derivatives():
    """An op's own chain_rule is for floats unless it says chain_rule_on_values; with
    create_graph the loop runs its rule on Values. y = (ab)^2: d/db dy/da = 4ab, by hand."""
    def chain_rule(node, g):
        a, b = node.parents
        a.grad += b.data * g
        b.grad += a.data * g

    register("mul_with_kernel", Op(lambda a, b: a * b, lambda a, b, out: (b, a), 2,
                                   chain_rule=chain_rule))
    try:
        a, b = Value(2.0), Value(3.0)
        z = engine.apply("mul_with_kernel", a, b)
        (z * z).backward(create_graph=True)
        assert engine.grad(a.grad, [b])[0] == pytest.approx(4 * 2.0 * 3.0)
        with pytest.raises(TypeError, match=r"chain_rule must take \(node, g\)"):
            register("old_kernel", Op(lambda a, b: a * b, lambda a, b, out: (b, a), 2,
                                      chain_rule=lambda node: None))
    finally:
        unregister("mul_with_kernel")


def test_an_unlabelled_weight_in_a_gradients_graph_is_v_k_not_its_value():
    w, x = Value(-0.489862), Value(1.5)
    y = w * x * x * 2  # micrograd-style: nothing labelled; the 2 is a constant
    y.backward(create_graph=True)
    names = engine.gradient_names(y)
    assert names[w] == "v0" and names[x] == "v1" and names[y.parents[1]] == "2"
    assert names[w.grad] == f"d{names[y]}/dv0" and "-0.489862" not in " ".join(names.values())
    assert not any(name.startswith("#") for name in names.values())


# -- #20: forward mode keeps nan, division by a subnormal, rules that work on Values -------------


def test_jvp_multiplies_a_zero_tangent_by_an_infinite_derivative_as_j_at_t_does():
    """(x - x) has the tangent 0 and sqrt'(0) is inf: J @ t is inf * 0 = nan, as PyTorch's
    torch.func.jvp and our own reverse mode give; skipping the term gave a clean 0.0."""
    value, tangent = jvp(lambda x: (x - x).sqrt(), [1.0], [1.0])
    assert value == 0.0 and math.isnan(tangent)
    x = Value(1.0)
    assert math.isnan(grad((x - x).sqrt(), [x])[0])  # reverse mode agrees
    # a constant operand has no tangent at all: its infinite derivative adds nothing
    assert jvp(lambda x: x * 3.0 + Value(0.0).sqrt(), [2.0], [1.0]) == (6.0, 3.0)


def test_the_gradient_through_a_division_by_a_subnormal_is_g_over_y():
    """d(x / y)/dx * g = g / y = 1e-20 / 1e-310 = 1e290 (PyTorch: 1.000000000000003e+290), not
    (1 / y) * g, which overflows to inf; the same for log at a subnormal."""
    x, y = Value(1e-300), Value(1e-310)
    (x / y).backward(1e-20)
    assert x.grad == 1e-20 / 1e-310 and math.isfinite(x.grad)
    assert y.grad == -math.inf  # -(x / y) / y overflows here in PyTorch too
    z = Value(1e-310)
    z.log().backward(1e-20)
    assert z.grad == 1e-20 / 1e-310
    assert grad(Value(1e-300) / y, [y], grad_outputs=[1.0]) == (-math.inf,)
    a = Value(1e-300)
    assert grad(a / Value(1e-310), [a], grad_outputs=[1e-20]) == (1e-20 / 1e-310,)
    assert jvp(lambda v: v.log(), [1e-310], [1e-20])[1] == 1e-20 / 1e-310
    b = Value(3.0)
    (Value(1.0) / b).backward()  # and an ordinary divisor still gives 1/y exactly
    assert b.grad == -1.0 / 9.0


def docs_softplus() -> Op:
    """docs/testing.md's softplus: a forward that never overflows, a rule with the helpers."""
    from engine.derivatives import exp

    return Op(forward=lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x))),
              local=lambda x, out: (exp(x - out),), arity=1)


def test_the_docs_softplus_works_to_second_order_and_at_800():
    source = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text()
    assert "local=lambda x, out: (exp(x - out),)" in source  # the example tested here
    with registered("softplus", docs_softplus()):
        assert gradgradcheck(lambda x, y: apply("softplus", x * y) + y.tanh(), 0.5, -1.5).ok
        x = Value(800.0)
        y = apply("softplus", x)
        (g,) = grad(y, [x], create_graph=True)
        assert y.data == 800.0 and g.data == 1.0  # sigmoid(800) = 1
        s = 1 / (1 + math.exp(-0.3))  # softplus'' = sigmoid (1 - sigmoid), by hand
        x = Value(0.3)
        (g,) = grad(apply("softplus", x), [x], create_graph=True)
        assert close(grad(g, [x])[0], s * (1 - s))


def test_a_rule_that_cannot_run_on_values_gets_a_short_error_with_the_fix_first():
    softplus = Op(lambda x: math.log1p(math.exp(x)),
                  lambda x, out: (1 / (1 + math.exp(-x)),), 1)
    with registered("softplus", softplus):
        x = Value(0.3)
        with pytest.raises(TypeError) as caught:
            apply("softplus", x).backward(create_graph=True)
    message = str(caught.value)
    assert len(message) < 300, message
    assert message.index("write it with engine.derivatives' exp") < message.index("raised")
