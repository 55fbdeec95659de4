"""The Value object: construction, attributes, operands, and the errors bad input gets."""

import numpy as np
import pytest

from engine import Value, apply
from engine.derivatives import Op


def test_leaf_attributes():
    v = Value(3, label="x")
    assert (v.data, v.grad, v.label, v.op, v.parents) == (3.0, 0.0, "x", "", ())
    assert type(v.data) is float


@pytest.mark.parametrize("data", [1, 1.5, True, np.float64(2.5), np.float32(0.5), np.int64(7)])
def test_real_numbers_are_stored_as_float(data):
    v = Value(data)
    assert type(v.data) is float and v.data == float(data)


@pytest.mark.parametrize("data", ["1", None, [1.0], 1 + 2j, object(), np.array([1.0]),
                                  np.complex128(1)])
def test_other_data_is_a_type_error_naming_the_type(data):
    with pytest.raises(TypeError, match=type(data).__name__):
        Value(data)


def test_a_value_is_not_data():
    with pytest.raises(TypeError, match="Value"):
        Value(Value(1.0))


def test_label_must_be_a_string():
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=3)


@pytest.mark.parametrize("operand", ["a", None, [1], 1j, object()])
def test_unsupported_operand_is_a_type_error(operand):
    for op in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
               "__truediv__", "__rtruediv__", "__pow__", "__rpow__"):
        assert getattr(Value(1.0), op)(operand) is NotImplemented
    with pytest.raises(TypeError, match="unsupported operand"):
        Value(1.0) + operand
    with pytest.raises(TypeError, match="Value"):  # str and list have their own wording
        operand * Value(1.0)


def test_parents_in_operand_order_and_repeated():
    a, b = Value(2.0, "a"), Value(3.0, "b")
    assert (a - b).parents == (a, b)
    assert (b - a).parents == (b, a)
    assert (a * a).parents == (a, a)
    c = 5 - a  # reflected: the constant is the first operand
    assert c.parents[1] is a and c.parents[0].data == 5.0 and c.data == 3.0
    assert (2 ** a).op == "pow" and (2 ** a).data == 4.0
    assert (a ** 2).op == "**" and (a ** b).op == "pow"


def test_every_operation_computes_its_value():
    x = Value(0.5)
    assert (x + 1).data == 1.5 and (1 + x).data == 1.5
    assert (x - 1).data == -0.5 and (1 - x).data == 0.5
    assert (x * 4).data == 2.0 and (4 * x).data == 2.0
    assert (x / 4).data == 0.125 and (4 / x).data == 8.0
    assert (x ** 2).data == 0.25 and (2 ** x).data == 2 ** 0.5
    assert (-x).data == -0.5 and abs(Value(-2.0)).data == 2.0
    assert x.exp().data == pytest.approx(np.exp(0.5))
    assert x.log().data == pytest.approx(np.log(0.5))
    assert x.sqrt().data == pytest.approx(np.sqrt(0.5))
    assert x.tanh().data == pytest.approx(np.tanh(0.5))
    assert x.sigmoid().data == pytest.approx(1 / (1 + np.exp(-0.5)))
    assert Value(-2.0).relu().data == 0.0 and x.relu().data == 0.5
    assert Value(-2.0).leaky_relu().data == pytest.approx(-0.02)
    assert Value(-2.0).leaky_relu(0.5).data == -1.0


def test_numpy_scalars_on_the_left_give_values():
    x = Value(2.0)
    for left in (np.float64(3.0), np.float32(3.0), np.int64(3)):
        for result in (left * x, left + x, left - x, left / x, left ** x):
            assert type(result) is Value


def test_n_ary_sum_is_one_node_and_python_sum_still_works():
    xs = [Value(float(i)) for i in range(5)]
    s = Value.sum(xs)
    assert s.op == "sum" and s.parents == tuple(xs) and s.data == 10.0
    assert sum(xs).data == 10.0
    assert Value.sum([1, 2.5, xs[1]]).data == 4.5
    assert Value.sum([]).data == 0.0
    assert Value.sum(x for x in xs).data == 10.0


def test_affine_is_one_node():
    w, x, b = [Value(1.0), Value(2.0)], [Value(3.0), 4.0], Value(0.5)
    z = Value.affine(w, x, b)
    assert z.op == "affine" and len(z.parents) == 5 and z.data == 1 * 3 + 2 * 4 + 0.5
    with pytest.raises(ValueError, match="2 weights and 1 inputs"):
        Value.affine(w, x[:1], b)
    with pytest.raises(TypeError, match="str"):
        Value.affine(w, [1.0, "2"], b)


def test_apply_names_unknown_ops_and_wrong_arity():
    with pytest.raises(ValueError, match="unknown operation 'erf'"):
        apply("erf", Value(1.0))
    with pytest.raises(TypeError, match="tanh takes 1 operands, got 2"):
        apply("tanh", Value(1.0), Value(2.0))


def test_comparisons_and_truth_compare_data_but_equality_is_identity():
    a, b = Value(1.0), Value(1.0)
    assert a < 2 and a <= b and b >= a and not a > b
    assert a != b and a == a and len({a, b}) == 2
    assert bool(Value(0.0)) is False and bool(Value(-1.0)) is True
    with pytest.raises(TypeError, match="str"):
        a < "x"  # noqa: B015


def test_repr_has_no_memory_address():
    r = repr(Value(2.0, "w") * 3)
    assert r == "Value(data=6.0, grad=0.0, op='*')"
    assert repr(Value(1.5, "w")) == "Value(data=1.5, grad=0.0, label='w')"
    assert "0x" not in r


def test_apply_affine_needs_an_odd_operand_count():
    with pytest.raises(ValueError, match=r"2n \+ 1 operands\), got 4"):
        apply("affine", Value(1.0), 2.0, 3.0, 4.0)
    assert apply("affine", 2.0, 3.0, 1.0).data == 7.0


def test_register_and_unregister_a_user_operation():
    from engine.derivatives import Op, register, unregister

    register("cube", Op(lambda x: x ** 3, lambda x, out: (3 * x * x,), 1))
    try:
        x = Value(2.0)
        y = apply("cube", x)
        y.backward()
        assert (y.data, x.grad) == (8.0, 12.0)
        with pytest.raises(ValueError, match="already registered"):
            register("cube", Op(abs, lambda x, out: (1.0,), 1))
    finally:
        unregister("cube")
    with pytest.raises(ValueError, match="unknown operation 'cube'"):
        apply("cube", 1.0)
    with pytest.raises(ValueError, match="built-in"):
        unregister("tanh")


def test_leaky_relu_slope_must_be_a_number():
    with pytest.raises(TypeError, match="leaky_relu's slope must be a real number"):
        Value(2.0).leaky_relu("a")


def test_register_checks_its_operation_before_changing_the_table():
    from engine.derivatives import OPS, Op, register

    with pytest.raises(TypeError, match=r"needs an engine\.derivatives\.Op"):
        register("bad", lambda x: x)
    with pytest.raises(ValueError, match="'bad': 1 constant derivatives for 2 operands"):
        register("bad", Op(lambda x, y: x + y, (1.0,), 2))
    with pytest.raises(ValueError, match="for any number of operands"):
        register("bad", Op(lambda *xs: sum(xs), (1.0, 1.0), None))
    assert "bad" not in OPS


@pytest.mark.parametrize("arity", [1, 2, 3])
@pytest.mark.parametrize("anomaly", [False, True])
def test_a_rule_that_miscounts_its_derivatives_is_named(arity, anomaly):
    """A user rule returning one local derivative too many gets a clear error in backward,
    whichever loop runs (each operand count has its own spelling in the fast loop)."""
    from engine import detect_anomaly
    from engine.testing import registered

    def forward(*xs):
        return sum(xs) * 2.0

    def one_too_many(*xs_out):
        return (2.0,) * len(xs_out)  # len(xs_out) = operands + 1

    with registered("doubled_sum", Op(forward, one_too_many, arity)):
        x = Value(1.0, "x")
        y = apply("doubled_sum", *[x] * arity)
        with pytest.raises(ValueError, match=(
                rf"rule of 'doubled_sum' gave {arity + 1} derivatives for {arity} operands, "
                r"at the node unlabelled = .* with operands x = 1.0")) as error:
            if anomaly:
                with detect_anomaly():
                    (y * 1.0).backward()
            else:
                (y * 1.0).backward()
    assert error.value.__cause__ is not None


def test_a_rule_that_returns_a_bare_number_is_named():
    from engine.testing import registered

    with registered("cube", Op(lambda x: x ** 3, lambda x, out: 3 * x * x, 1)):  # not (3x²,)
        x = Value(2.0, "x")
        with pytest.raises(TypeError, match=r"rule of 'cube' must return a tuple, one "
                           r"derivative per operand, not float 12\.0; at the node"):
            apply("cube", x).backward()


def test_apply_with_no_operands_asks_the_forward_function():
    assert apply("sum").data == 0.0
    with pytest.raises(ValueError, match="got 0 operands"):
        apply("affine")
