"""engine.testing: numeric_grad, gradcheck's checks and messages, check_local, the torch helper.

Expected derivatives come from calculus written here by hand (3x², 1 - tanh², ...), never from
the engine's own output.
"""

import math
import sys
import types

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import Value, apply, no_grad
from engine.derivatives import OPS, Op, unregister
from engine.testing import (
    KINK,
    MISMATCH,
    NOT_REENTRANT,
    GradcheckError,
    assert_grads_match_numeric,
    assert_grads_match_torch,
    check_local,
    gradcheck,
    numeric_grad,
    planted,
    registered,
)
from engine.testing.programs import Constant, Instruction, Program


def cube(x):
    return x ** 3


# -- registered ----------------------------------------------------------------------------------


def test_registered_takes_the_op_out_again_even_when_the_block_fails():
    op = Op(lambda x: x ** 3, lambda x, out: (3 * x * x,), 1)
    with pytest.raises(ZeroDivisionError), registered("cube_in_block", op) as name:
        assert name == "cube_in_block" and OPS[name] is op
        assert apply(name, Value(2.0)).data == 8.0
        raise ZeroDivisionError
    assert "cube_in_block" not in OPS
    with registered("cube_in_block", op):  # and it can be registered again
        unregister("cube_in_block")  # a block may remove it itself
    assert "cube_in_block" not in OPS


def test_planted_changes_an_entry_for_the_block_and_puts_it_back_even_when_it_fails():
    entry, rule = OPS["tanh"], OPS["tanh"].local
    old = Value(0.5).tanh()  # a node made before the block reads the entry too
    wrong = lambda x, out: (1.0 - x * x,)  # noqa: E731 (1 - x² instead of 1 - tanh²)
    with pytest.raises(ZeroDivisionError), planted("tanh", local=wrong) as got:
        assert got is entry and entry.local is wrong
        old.backward()
        (x,) = old.parents
        assert x.grad == 1.0 - 0.25
        raise ZeroDivisionError
    assert entry.local is rule
    with pytest.raises(ValueError, match="no operation 'tanhh' to plant a bug in"):
        with planted("tanhh", local=wrong):
            pass
    with pytest.raises(ValueError, match="an Op has no field 'rule' to plant"):
        with planted("tanh", rule=wrong):
            pass
    assert entry.local is rule


# -- numeric_grad ---------------------------------------------------------------------------------


def test_relative_step_gets_large_inputs_right():
    # an absolute step of 1e-6 is below the float spacing at 1e10 (PyTorch gives 3.2768e10)
    assert numeric_grad(lambda x: x ** 2, 1e10) == [pytest.approx(2e10, rel=1e-9)]


def test_central_differences_of_tanh():
    (d,) = numeric_grad(lambda x: x.tanh(), 0.7)
    assert d == pytest.approx(1 - math.tanh(0.7) ** 2, rel=1e-9)


def test_richardson_is_more_accurate_than_central_at_a_large_step():
    exact = 1 - math.tanh(0.7) ** 2
    (central,) = numeric_grad(lambda x: x.tanh(), 0.7, eps=1e-2)
    (richardson,) = numeric_grad(lambda x: x.tanh(), 0.7, eps=1e-2, method="richardson")
    assert abs(richardson - exact) < 1e-8 < abs(central - exact)


def test_one_derivative_per_input_and_value_inputs():
    assert numeric_grad(lambda x, y: x * y + y, Value(3.0), 2.0) == [
        pytest.approx(2.0, rel=1e-9), pytest.approx(4.0, rel=1e-9)]


@given(st.floats(-5, 5), st.floats(-3, 3))
def test_numeric_grad_of_a_cubic(a, x):
    (d,) = numeric_grad(lambda v: a * v ** 3 + v, x)
    assert d == pytest.approx(3 * a * x * x + 1, rel=1e-6, abs=1e-6)


def test_numeric_grad_runs_f_without_recording_a_graph():
    seen = []
    numeric_grad(lambda x: seen.append(x * 2) or seen[-1], 1.0)
    assert all(not v.parents for v in seen)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"eps": 0.0}, "eps must be a number between 0 and 1"),
    ({"eps": 2.0}, "eps must be a number between 0 and 1"),
    ({"method": "forward"}, "method must be one of central, richardson"),
])
def test_numeric_grad_rejects_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        numeric_grad(cube, 1.0, **kwargs)


@pytest.mark.parametrize("eps", [math.nan, math.inf, -1e-6, 1.0, True, "1e-6"])
def test_a_step_that_is_not_strictly_between_0_and_1_is_refused(eps):
    for check in (numeric_grad, gradcheck):
        with pytest.raises(ValueError, match="eps must be a number between 0 and 1"):
            check(cube, 1.0, eps=eps)
    with pytest.raises(ValueError, match="eps must be a number between 0 and 1"):
        check_local(Value(1.0).tanh(), eps=eps)


def wrong_cube(x):
    """x³ with the derivative 2x² (a wrong user op)."""
    return apply("wrong_cube", x)


@pytest.fixture
def wrong_cube_op():
    with registered("wrong_cube", Op(lambda x: x ** 3, lambda x, out: (2 * x * x,), 1)):
        yield


@pytest.mark.parametrize("name", ["atol", "rtol"])
@pytest.mark.parametrize("tol", [math.inf, -math.inf, math.nan, -1e-5, True, "1e-5"])
def test_a_tolerance_that_would_pass_a_wrong_gradient_is_refused(wrong_cube_op, name, tol):
    with pytest.raises(GradcheckError):  # 2x² is 4.5, 3x² is 6.75: the default tolerances fail
        gradcheck(wrong_cube, 1.5)
    with pytest.raises(ValueError, match=f"{name} must be a number >= 0 and finite, got"):
        gradcheck(wrong_cube, 1.5, **{name: tol})
    with pytest.raises(ValueError, match=f"{name} must be a number >= 0 and finite, got"):
        check_local(wrong_cube(Value(1.5)), **{name: tol})
    with pytest.raises(ValueError, match=f"{name} must be a number >= 0 and finite, got"):
        assert_grads_match_torch(wrong_cube, 1.5, **{name: tol})


def test_gradcheck_without_inputs_is_an_error_not_a_pass():
    with pytest.raises(ValueError, match="gradcheck has no inputs to check"):
        gradcheck(lambda: Value(1.0))
    w = Value(2.0)  # a captured Value is not an input: nothing would be checked
    with pytest.raises(ValueError, match="gradcheck has no inputs to check"):
        gradcheck(lambda: w * w)
    with pytest.raises(ValueError, match="gradcheck has no inputs to check"):
        assert_grads_match_numeric(lambda: Value(1.0))


def test_bad_inputs_and_outputs_are_named():
    with pytest.raises(TypeError, match="input 1 must be a real number or a Value, got str"):
        numeric_grad(lambda x, y: x, 1.0, "2")
    with pytest.raises(TypeError, match="f must return a Value, got str"):
        numeric_grad(lambda x: "nope", 1.0)
    with pytest.raises(TypeError, match="f must return a Value built from the Values"):
        gradcheck(lambda x: 3.0, 1.0)
    with pytest.raises(TypeError, match="gradcheck needs a function of Values, got int"):
        gradcheck(3, 1.0)
    with pytest.raises(ValueError, match="atol must be a number >= 0"):
        gradcheck(cube, 1.0, atol=-1)


# -- gradcheck: passing, and the report -----------------------------------------------------------


def test_a_correct_function_passes_with_a_readable_table():
    result = gradcheck(lambda x, y: (x * y).tanh() + x.exp(), 0.5, -1.2)
    assert result and result.ok and result.failures == []
    by_hand = [-1.2 * (1 - math.tanh(-0.6) ** 2) + math.exp(0.5), 0.5 * (1 - math.tanh(-0.6) ** 2)]
    assert [row.analytic for row in result.rows] == pytest.approx(by_hand, rel=1e-12)
    assert [row.numeric for row in result.rows] == pytest.approx(by_hand, rel=1e-8)
    text = str(result)
    assert text.splitlines()[0] == "gradcheck passed for f at x0 = 0.5, x1 = -1.2"
    assert text.splitlines()[1].split() == ["input", "value", "analytic", "numeric", "abs",
                                            "err", "rel", "err", "fd", "err"]


def test_labels_of_value_inputs_name_the_rows():
    result = gradcheck(lambda w, b: w * 2 + b, Value(1.0, label="w"), Value(0.0, label="b"))
    assert [row.name for row in result.rows] == ["w", "b"]
    assert str(result).splitlines()[0] == "gradcheck passed for f at w = 1.0, b = 0.0"


def test_named_functions_are_named_and_addresses_never_appear():
    text = str(gradcheck(cube, 2.0))
    assert text.startswith("gradcheck passed for cube() at x0 = 2.0")
    assert "0x" not in text


def test_the_finite_difference_error_estimate():
    # central differences of x³ at 1 give 3 + h², so |N(h) - N(2h)| = 3h²: h = 0.01 -> 3e-4
    (row,) = gradcheck(cube, 1.0, eps=1e-2, rtol=1e-3).rows
    assert row.numeric == pytest.approx(3.0001, rel=1e-9)
    assert row.fd_err == pytest.approx(3e-4, rel=1e-6)


def test_f_is_run_with_recording_on_even_inside_no_grad():
    with no_grad():
        assert gradcheck(lambda x: x * x, 3.0)


def test_a_program_is_a_function_gradcheck_accepts():
    program = Program(2, (Instruction("tanh", (0,)), Instruction("*", (2, Constant(3.0)))),
                      point=(0.5, 2.0))
    result = assert_grads_match_numeric(program)  # its own point
    t = math.tanh(0.5)
    assert [row.analytic for row in result.rows] == pytest.approx([1 + 4 * (1 - t * t), 1.0])
    assert result.function == "v2 = tanh(x0); x0 + x1 + v2 + v2 * 3.0"


# -- gradcheck: wrong local derivatives and the culprit -------------------------------------------


def test_a_wrong_user_op_is_named_in_words():
    bad = Op(lambda x: x ** 3, lambda x, out: (2 * x * x,), 1)  # forgot: d(x³)/dx = 3x²
    with registered("bad_cube", bad), pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: apply("bad_cube", x).tanh(), 0.7)
    result = caught.value.result
    assert result.kinds == [MISMATCH] and not result
    rule, numeric = 2 * 0.49, 3 * 0.49
    assert result.culprit.op == "bad_cube" and result.culprit.node == "v1"
    assert str(result.culprit) == (f"v1 = bad_cube(x0) at x0 = 0.7: rule gives {rule:.6g}, "
                                   f"numeric {numeric:.6g}: check bad_cube's local derivative")
    assert "culprit: v1 = bad_cube(x0)" in str(caught.value)


def test_a_function_and_its_program_name_their_nodes_alike():
    # constants are shown as numbers and not counted: x0 * 2.0 is v1 in both, never v2 or n1
    bad = Op(lambda x: x ** 3, lambda x, out: (2 * x * x,), 1)
    with registered("bad_cube", bad):
        program = Program(1, (Instruction("*", (0, Constant(2.0))),
                              Instruction("bad_cube", (1,))), output=2)
        culprits = [gradcheck(f, 0.3, raise_exception=False).culprit
                    for f in (lambda x: apply("bad_cube", x * 2.0), program)]
    assert [str(c).split(" at ")[0] for c in culprits] == ["v2 = bad_cube(v1)"] * 2
    assert str(culprits[0]) == str(culprits[1])


def test_a_correct_user_op_passes():
    good = Op(lambda x: x ** 3, lambda x, out: (3 * x * x,), 1)
    with registered("good_cube", good):
        assert gradcheck(lambda x, y: apply("good_cube", x * y) + y, 0.7, -1.1)


def test_the_culprit_is_the_first_wrong_node_and_names_the_operand():
    # d(x/y)/dy planted as +x/y² instead of -x/y²: the second operand of "/" is wrong
    bad = Op(lambda x, y: x / y, lambda x, y, out: (1 / y, x / (y * y)), 2)
    with registered("bad_div", bad), pytest.raises(GradcheckError) as caught:
        gradcheck(lambda a, b: apply("bad_div", a.tanh(), b) * 2, 0.5, 2.0)
    t = math.tanh(0.5)
    assert str(caught.value.result.culprit) == (
        f"v3 = bad_div(v2, x1) at v2 = {t!r}, x1 = 2.0: rule gives {t / 4:.6g}, numeric "
        f"{-t / 4:.6g} for operand 2 (x1): check bad_div's local derivative")


def test_check_local_on_a_correct_graph_finds_nothing():
    x, y = Value(0.3), Value(-2.0)
    out = ((x * y).sigmoid() + (x ** 2).log() - y.exp() / x).tanh() + abs(y) + x.relu()
    assert check_local(out) == []


def test_check_local_skips_constants_and_kinks():
    x = Value(0.0)
    assert check_local(x.relu() + x.leaky_relu(0.2) + abs(x) + x ** 3.0) == []


# -- gradcheck: kinks -----------------------------------------------------------------------------


def test_relu_at_zero_is_reported_as_a_kink_with_the_convention():
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: x.relu(), 0.0)
    result = caught.value.result
    assert result.kinds == [KINK] and result.culprit is None
    assert result.failures[0].message.startswith(
        "x0 sits on a kink of relu at 0; deltagrad uses the subgradient 0 (PyTorch's convention)")
    assert "left 0, right 1" in result.failures[0].message


def test_kinks_can_be_allowed_when_the_subgradient_is_between_the_one_sided_derivatives():
    result = gradcheck(lambda x: x.leaky_relu(0.1) * 2, 0.0, allow_kinks=True)
    assert result.ok and len(result.notes) == 1
    assert "subgradient 0.1" in result.notes[0]


def test_a_kink_inside_the_graph_names_the_node():
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: (x - 1).relu(), 1.0)
    assert caught.value.result.failures[0].message.startswith(
        "v2 = relu(v1) sits on a kink of relu at 0 (v1 = 0.0); deltagrad uses the subgradient 0")


def test_a_point_within_a_step_of_a_kink():
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: x.relu(), 1e-8)
    assert "x0 is within a finite-difference step of a kink of relu at 0" in str(caught.value)


def test_abs_at_zero_passes_as_in_pytorch():
    assert gradcheck(lambda x: abs(x), 0.0)  # central differences give 0, the subgradient


def test_a_kinked_user_op_without_declared_kinks_is_not_called_a_kink():
    step_like = Op(lambda x: max(x, 0.0) * 2, lambda x, out: (2.0 if x > 0 else 0.0,), 1)
    with registered("undeclared", step_like), pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: apply("undeclared", x), 0.0)
    result = caught.value.result
    assert result.kinds == [MISMATCH]
    assert "one-sided derivatives disagree (left 0, right 2)" in result.failures[0].message


# -- gradcheck: repeatability ---------------------------------------------------------------------


def test_a_function_with_state_is_not_reentrant():
    calls = []

    def counting(x):
        calls.append(1)
        return x * len(calls)

    with pytest.raises(GradcheckError) as caught:
        gradcheck(counting, 1.0)
    assert caught.value.result.kinds == [NOT_REENTRANT]
    assert "two fresh backward passes gave different gradients" in str(caught.value)


def test_raise_exception_false_returns_a_falsy_result():
    result = gradcheck(lambda x: x.relu(), 0.0, raise_exception=False)
    assert not result and result.kinds == [KINK]


def test_values_f_captures_keep_their_grads():
    w = Value(2.0)  # a weight, and an interior node built from it, both captured by f
    h = w * 3.0
    w.grad, h.grad = 0.25, -0.5
    gradcheck(lambda x: (w * x).tanh() + h * x, 0.5)
    assert (w.grad, h.grad) == (0.25, -0.5)


def test_captured_grads_are_restored_when_gradcheck_fails():
    w = Value(2.0)
    w.grad = 0.25
    with registered("slope_twice", Op(lambda x: x, lambda x, out: (2.0,), 1)):
        with pytest.raises(GradcheckError):
            gradcheck(lambda x: apply("slope_twice", w * x), 0.5)
    assert w.grad == 0.25


@pytest.mark.parametrize(("g", "why"), [
    (0, "stale_interior_grads cannot fail"), (1, "missing_chain_rule cannot fail"),
    (1.0, "missing_chain_rule cannot fail"), (-1, "|g| = 1"), (math.inf, "non-finite"),
    (math.nan, "non-finite")])
def test_an_upstream_gradient_the_checks_cannot_fail_with_is_refused(g, why):
    with pytest.raises(ValueError, match="would weaken gradcheck") as caught:
        gradcheck(cube, 0.5, upstream=g)
    assert why in str(caught.value)


def test_an_upstream_gradient_away_from_0_and_1_is_used():
    assert gradcheck(cube, 0.5, upstream=-2.5)
    with pytest.raises(TypeError, match="upstream must be a number"):
        gradcheck(cube, 0.5, upstream="2")


# -- assert_grads_match_torch, against a stand-in torch built on deltagrad itself ---------------


IN_PLACE = False  # whether += changes a stub tensor in place, as it does a torch tensor


class StubTensor:
    """Just enough of a torch tensor, built on Values; ``tanh_slope`` plants a wrong tanh'."""

    def __init__(self, v):
        self.v = v

    def _op(f):
        return lambda a, b: StubTensor(f(a.v, b.v if isinstance(b, StubTensor) else b))

    __add__, __sub__ = _op(lambda a, b: a + b), _op(lambda a, b: a - b)
    __mul__, __truediv__ = _op(lambda a, b: a * b), _op(lambda a, b: a / b)
    __pow__ = _op(lambda a, b: a ** b)
    __radd__ = _op(lambda a, b: b + a)

    def __neg__(self):
        return StubTensor(-self.v)

    def __iadd__(self, other):
        if not IN_PLACE:  # a Python number's +=: a new object
            return self + other
        self.v = self.v + other.v  # a torch tensor's +=: the same tensor, changed
        return self

    def tanh(self):
        return sys.modules["torch"].tanh(self)

    def item(self):
        return self.v.data

    def backward(self):
        self.v.backward()

    @property
    def grad(self):
        return StubTensor(Value(self.v.grad))


def stub_torch(wrong_tanh=False, in_place=False):
    global IN_PLACE
    IN_PLACE = in_place
    def tanh(t):
        if wrong_tanh:  # same value, derivative 1 - tanh instead of 1 - tanh²
            return StubTensor(apply("stub_bad_tanh", t.v))
        return StubTensor(t.v.tanh())

    unary = {name: (lambda n: lambda t: StubTensor(apply(n, t.v)))(name)
             for name in ("abs", "exp", "log", "sqrt", "sigmoid", "relu")}
    functional = types.SimpleNamespace(
        leaky_relu=lambda t, slope: StubTensor(t.v.leaky_relu(slope)))
    return types.SimpleNamespace(
        float64="float64", tensor=lambda x, dtype, requires_grad: StubTensor(Value(x)),
        pow=lambda a, b: StubTensor(a.v ** b.v), tanh=tanh, nn=types.SimpleNamespace(
            functional=functional), **unary)


@pytest.fixture
def torch_stub(monkeypatch):
    bad = Op(math.tanh, lambda x, out: (1 - out,), 1)
    with registered("stub_bad_tanh", bad):
        def install(**kwargs):
            monkeypatch.setitem(sys.modules, "torch", stub_torch(**kwargs))
        yield install
    stub_torch()  # += back to making a new stub tensor


EVERY_OP = Program(2, (
    Instruction("tanh", (0,)), Instruction("*", (2, 1)), Instruction("exp", (1,)),
    Instruction("log", (4,)), Instruction("sqrt", (4,)), Instruction("sigmoid", (3,)),
    Instruction("relu", (0,)), Instruction("abs", (1,)),
    Instruction("leaky_relu", (1, Constant(0.1))),
    Instruction("/", (3, 4)), Instruction("**", (4, Constant(1.5))), Instruction("pow", (4, 0)),
    Instruction("neg", (2,)), Instruction("-", (0, 1)), Instruction("sum", (0, 1, 2)),
    Instruction("affine", (0, 1, 2)),
), point=(0.5, -0.75))


def test_torch_helper_agrees_with_a_faithful_torch(torch_stub):
    torch_stub()
    assert_grads_match_torch(EVERY_OP)
    assert_grads_match_torch(lambda x, y: (x * y).tanh() - y / x, 0.3, 2.0)


def test_torch_helper_reports_each_disagreeing_gradient(torch_stub):
    torch_stub(wrong_tanh=True)
    with pytest.raises(AssertionError) as caught:
        assert_grads_match_torch(lambda x, y: (x * y).tanh(), 0.5, 2.0)
    t = math.tanh(1.0)
    lines = str(caught.value).splitlines()
    assert lines[0] == "deltagrad and PyTorch disagree for f at x0 = 0.5, x1 = 2.0:"
    assert lines[1:] == [f"d/dx0: deltagrad {2 * (1 - t * t)!r}, torch {2 * (1 - t)!r}",
                         f"d/dx1: deltagrad {0.5 * (1 - t * t)!r}, torch {0.5 * (1 - t)!r}"]


def test_torch_helper_needs_a_translation_for_user_ops(torch_stub):
    torch_stub()
    good = Op(lambda x: x ** 3, lambda x, out: (3 * x * x,), 1)
    with registered("cube3", good):
        program = Program(1, (Instruction("cube3", (0,)),), point=(0.5,))
        with pytest.raises(KeyError, match="no translation for the operation 'cube3'"):
            assert_grads_match_torch(program)
        assert_grads_match_torch(program, torch_ops={"cube3": lambda t: t * t * t})


def test_torch_helper_translates_each_op_with_its_entry(torch_stub):
    torch_stub()
    program = Program(1, (Instruction("tanh", (0,)),), point=(0.5,))
    assert_grads_match_torch(program)
    # a wrong translation in the table is what the helper runs: it must then disagree
    with planted("tanh", torch=lambda t, x: t.exp(x)), pytest.raises(
            AssertionError, match="deltagrad and PyTorch disagree"):
        assert_grads_match_torch(program)
    # a user op brings its own translation in its Op: no torch_ops needed
    cube = Op(lambda x: x ** 3, lambda x, out: (3 * x * x,), 1, torch=lambda t, x: x * x * x)
    with registered("cube4", cube):
        assert_grads_match_torch(Program(1, (Instruction("cube4", (0,)),), point=(0.5,)))
        cube.torch = lambda t, x: x * x  # a wrong one is caught: 1 + 3x² against 1 + 2x
        with pytest.raises(AssertionError, match=r"d/dx0: deltagrad 1\.75, torch 2\.0"):
            assert_grads_match_torch(Program(1, (Instruction("cube4", (0,)),), point=(0.5,)))


def test_torch_helper_without_inputs_is_an_error(torch_stub):
    torch_stub()
    with pytest.raises(ValueError, match="assert_grads_match_torch has no inputs"):
        assert_grads_match_torch(lambda: Value(1.0))


def test_torch_translations_leave_their_operand_tensors_alone(torch_stub):
    torch_stub(in_place=True)  # += on a stub tensor now changes it, as on a torch tensor
    program = Program(2, (Instruction("tanh", (0,)), Instruction("affine", (0, 1, 2))),
                      point=(0.5, -0.75))
    assert_grads_match_torch(program)  # v2 = tanh(x0) is both affine's bias and summed


def test_torch_helper_leaves_the_grads_of_captured_values_alone(torch_stub):
    torch_stub()
    w = Value(2.0)
    w.grad = 0.25
    assert_grads_match_torch(lambda x: (x * (w if type(x) is Value else w.data)).tanh(), 0.5)
    assert w.grad == 0.25


def test_torch_helper_skips_with_a_reason_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(pytest.skip.Exception, match="torch is not installed"):
        assert_grads_match_torch(cube, 1.0)


def test_messages_and_programs_print_infix_ops_from_one_table():
    import engine.pictures.draw
    import engine.pictures.notation
    import engine.testing.nodes
    import engine.testing.programs

    # gradcheck's messages, programs and the drawings' captions write nodes with one writer
    written = engine.pictures.notation.written
    assert engine.testing.nodes.written is written
    assert engine.testing.programs.written is written
    assert engine.pictures.draw.written is written
    assert written("*", ["a + b", "c"]) == "(a + b) * c"
    assert written("pow", ["a", "b"]) == "a ** b"
