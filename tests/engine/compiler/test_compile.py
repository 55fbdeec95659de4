"""engine.compile: the one-sample program against backward(), the batch program against the
per-sample backward() summed and against the lecture's matrix formulas (nn.closed_form), and
the guards (a branch on data, a graph that differs per sample, bad inputs)."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

import engine
import nn
from engine import Value
from engine.derivatives import Op, register, unregister
from engine.modes import TracerWarning
from nn import closed_form
from nn.losses import BinaryCrossEntropyWithLogits, Hinge, MeanSquaredError, SoftmaxCrossEntropy


def grads(params):
    return [p.grad for p in params]


def zero(params):
    for p in params:
        p.grad = 0.0


def engine_step(f, params, *inputs):
    """The interpreted step: f on fresh leaves, backward(); (output, gradients)."""
    zero(params)
    out = f(*[_leaves(x) for x in inputs])
    root = out if isinstance(out, Value) else Value.sum(out)
    root.backward()
    return (out.data if isinstance(out, Value) else [v.data for v in out]), grads(params)


def backward_summed(f, params, *columns):
    """The interpreted engine over a batch, sample by sample: (the outputs, the sum of the
    gradients), the oracle of the batch program."""
    costs, total = [], np.zeros(len(params))
    for sample in zip(*columns, strict=True):
        out, g = engine_step(f, params, *sample)
        costs.append(out)
        total += g
    return costs, total


def _leaves(x):
    return Value(float(x)) if np.ndim(x) == 0 else [_leaves(v) for v in x]


def same_bits(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) ==
                                                math.copysign(1, b))


# -- the one-sample program: what backward() computes, bit for bit ---------------------------


def test_a_neuron_reads_as_its_evaluation_trace_and_adjoint_with_its_labels():
    w0, w1, b = Value(0.5, "w0"), Value(-1.5, "w1"), Value(0.25, "b")

    def loss(x, y):
        return (Value.affine([w0, w1], x, b).tanh() - y) ** 2

    step = engine.compile(loss, [1.0, 2.0], 0.5, params=[w0, w1, b])
    lines = [line.strip() for line in step.source.splitlines()]
    # written by hand from the lecture's trace: v1 = z, v2 = tanh(z), v3 = error, v4 = square
    for expected in ["v1 = b + w0 * x[0] + w1 * x[1]", "v2 = tanh(v1)", "v3 = v2 - y",
                     "v4 = power(v3, 2.0)", "gv4 = 1.0", "gv3 = 2.0 * v3 * gv4",
                     "gv2 = gv3", "gv1 = (1.0 - v2 * v2) * gv2", "gw0 += x[0] * gv1",
                     "gw1 += x[1] * gv1", "gb += gv1"]:
        assert expected in lines, expected
    assert lines.index("gv3 = 2.0 * v3 * gv4") < lines.index("gw0 += x[0] * gv1")
    out = step.backward([1.0, 2.0], 0.5)
    z = 0.25 + 0.5 * 1.0 - 1.5 * 2.0
    assert out == (math.tanh(z) - 0.5) ** 2  # by hand
    dz = 2 * (math.tanh(z) - 0.5) * (1 - math.tanh(z) ** 2)
    assert grads([w0, w1, b]) == pytest.approx([dz * 1.0, dz * 2.0, dz], rel=1e-15)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "leaky_relu", "linear"])
def test_the_one_sample_program_gives_backwards_bits_on_an_mlp(activation):
    mlp = nn.MLP(3, [4, 2], activation=activation, seed=3)
    params = mlp.parameters()

    def loss(x, y):
        out = mlp(x)
        return [(out[0] - y[0]) ** 2, abs(out[1] - y[1])]

    step = engine.compile(loss, [0.1, 0.2, 0.3], [1.0, -1.0], params=params)
    rng = np.random.default_rng(1)
    for _ in range(5):
        x, y = rng.normal(size=3).tolist(), rng.normal(size=2).tolist()
        expected_out, expected = engine_step(loss, params, x, y)
        before = [0.25 * k for k in range(len(params))]  # backward adds to .grad, term by term
        for p, g in zip(params, before, strict=True):
            p.grad = g
        out = step.backward(x, y)
        got = grads(params)
        zero(params)
        for p, g in zip(params, before, strict=True):
            p.grad = g
        root = Value.sum(loss(*[_leaves(v) for v in (x, y)]))
        root.backward()
        assert out == expected_out
        assert all(map(same_bits, got, grads(params)))
        assert expected != [0.0] * len(params)
        assert step(x, y) == expected_out


def test_kinks_take_the_tables_subgradients_in_both_programs():
    a, s = Value(1.0, "a"), Value(2.0, "s")

    def f(x):
        return [(a * x[0]).relu(), abs(a * x[1]), (a * x[2]).leaky_relu(0.125), s * x[0]]

    step = engine.compile(f, [1.0, 1.0, 1.0], params=[a, s])
    zero([a, s])
    step.backward([0.0, 0.0, 0.0])
    assert a.grad == 0.0 + 0.0 + 0.0  # relu'(0) = 0, abs'(0) = 0, times x = 0 anyway
    zero([a, s])
    step.backward([0.0, -0.0, 0.0])
    assert a.grad == 0.0
    # on the batch: the kinks at z = a x = 0 by x = 0; the chain rule multiplies by x = 0, so
    # look at the local derivatives through an input of 1 and a weight at 0
    b = Value(0.0, "b")
    g = engine.compile(lambda x: [(b + x).relu(), abs(b + x), (b + x).leaky_relu(0.125)],
                       1.0, params=[b])
    zero([b])
    g.backward(np.array([0.0, 0.0]))
    assert b.grad == 2 * (0.0 + 0.0 + 0.125)  # relu'(0) = 0, abs'(0) = 0, leaky'(0) = slope
    zero([b])
    g.backward(0.0)
    assert b.grad == 0.125


def test_nan_and_inf_propagate_as_the_conventions_say():
    # docs/conventions.md: log(0) = -inf with gradient inf; 0/0 = nan; 1/0 = inf
    w = Value(1.0, "w")

    def f(x):
        return [(w * x[0]).log(), (w * x[1]) / x[1], w / x[1]]

    step = engine.compile(f, [1.0, 1.0], params=[w])
    for x in ([0.0, 0.0], [-1.0, 0.0], [math.inf, math.nan]):
        expected_out, expected = engine_step(f, [w], x)
        zero([w])
        out = step.backward(x)
        assert all(map(same_bits, out, expected_out)) and same_bits(w.grad, expected[0])
        zero([w])
        outs = step.backward(np.array([x, x]))
        assert all(same_bits(o, e) or (math.isnan(o) and math.isnan(e))
                   for o, e in zip(outs[0], expected_out, strict=True))
        assert same_bits(w.grad, 2 * expected[0]) or (math.isnan(w.grad) and
                                                      math.isnan(expected[0]))
    zero([w])
    assert step([0.0, 1.0])[0] == -math.inf
    step.backward(np.array([[0.0, 1.0]]))
    assert math.isnan(w.grad)  # 0 * log: the rule 1/x = inf, times x = 0 ... nan, as backward


# -- the batch program --------------------------------------------------------------------------


LOSSES = {  # nn's own losses: a sample's cost reads its target as a row of numbers (inputs)
    "mse": (MeanSquaredError, 2, lambda rng, n, nout: rng.normal(size=(n, nout)).tolist()),
    "hinge": (Hinge, 1, lambda rng, n, nout: rng.choice([-1, 1], size=n).tolist()),
    "bce": (BinaryCrossEntropyWithLogits, 1, lambda rng, n, nout: rng.uniform(0, 1, n).tolist()),
    "softmax": (SoftmaxCrossEntropy, 3, lambda rng, n, nout: rng.integers(0, nout, n).tolist()),
}


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "leaky_relu", "linear"])
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_the_grouped_mlp_program_is_the_lectures_matrix_backpropagation(activation, loss_name):
    kind, nout, draw_targets = LOSSES[loss_name]
    loss = kind(reduction="sum")
    mlp = nn.MLP(3, [5, 4, nout], activation=activation, seed=7)
    params = mlp.parameters()
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6, 3))
    targets = draw_targets(rng, 6, nout)
    rows = np.array([loss.row(t, nout) for t in targets])

    def cost(x, row):
        return loss.sample(mlp(x), row)

    step = engine.compile(cost, X[0].tolist(), rows[0].tolist(), params=params,
                          check_inputs=[(X[1].tolist(), rows[1].tolist())])
    source = step.batch_source
    assert "Z1 = W1 @ A0 + b1" in source and "gW1 += gZ1 @ A0.T" in source
    assert "gb1 += gZ1.sum(axis=1, keepdims=True)" in source
    if activation == "tanh":
        assert "gZ1 = gA1 * (1.0 - A1 * A1)" in source and "gA1 = W2.T @ gZ2" in source
    zero(params)
    outputs = step.backward(X, rows)
    expected = closed_form.backprop(mlp, X, targets, loss)
    assert outputs.sum() == pytest.approx(expected.loss, rel=1e-12)
    for layer, dW, db in zip(mlp.layers, expected.dW, expected.db, strict=True):
        for j, neuron in enumerate(layer.neurons):
            assert [w.grad for w in neuron.w] == pytest.approx(dW[j].tolist(), rel=1e-12,
                                                               abs=1e-14)
            assert neuron.b.grad == pytest.approx(db[j], rel=1e-12, abs=1e-14)


def test_the_batch_program_agrees_with_backward_summed_over_the_samples():
    mlp = nn.MLP(2, [16, 16, 1], seed=0)
    params = mlp.parameters()

    def loss(x, y):
        return (mlp(x)[0] - y) ** 2

    step = engine.compile(loss, [0.5, -1.0], 1.0, params=params)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(20, 2)), rng.normal(size=20)
    zero(params)
    outputs = step.backward(X, Y)
    got = np.array(grads(params))
    costs, expected = backward_summed(loss, params, X, Y)
    assert np.allclose(outputs, costs, rtol=1e-12, atol=0)
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-13)
    assert step(X, Y) == pytest.approx(costs, rel=1e-12)


def test_optimizers_step_on_the_gradients_it_leaves_and_arrays_route_agrees():
    mlp = nn.MLP(2, [3, 1], seed=5)
    params = mlp.parameters()
    step = engine.compile(lambda x, y: (mlp(x)[0] - y) ** 2, [0.0, 0.0], 0.0, params=params)
    X, Y = np.array([[0.5, 1.0], [-1.0, 2.0]]), np.array([1.0, 0.0])
    theta = step.parameter_array()
    _, G = step.gradients(X, Y, theta=theta)
    zero(params)
    step.backward(X, Y)
    assert np.array_equal(G, grads(params))  # the same program, through the Values or not
    optimizer = nn.optim.SGD(params, lr=0.1)
    optimizer.step()
    assert [p.data for p in params] == pytest.approx((theta - 0.1 * G).tolist(), rel=1e-15)
    step.set_parameters(theta)
    assert [p.data for p in params] == theta.tolist()
    adam = nn.optim.Adam(params, lr=0.01, eps=1e-8)  # a first step: lr g / (|g| + eps)
    zero(params)
    step.backward(X, Y)
    adam.step()
    assert [p.data for p in params] == pytest.approx(
        (theta - 0.01 * G / (np.abs(G) + 1e-8)).tolist(), rel=1e-12)


# -- guards ---------------------------------------------------------------------------------


def test_a_branch_on_data_warns_while_tracing_and_check_inputs_refuses_it_naming_the_node():
    w = Value(1.0, "w")

    def f(x):
        z = w * x
        z.label = "z"
        return z * 2.0 if z > 0 else z * -3.0

    with pytest.warns(TracerWarning, match="'z'"):
        engine.compile(f, 1.0, params=[w])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TracerWarning)
        with pytest.raises(ValueError, match=r"check_inputs\[0\].*constant .*2\.0.*-3\.0"):
            engine.compile(f, 1.0, params=[w], check_inputs=[(-1.0,)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning outside a trace
        assert (Value(1.0) > 0) is True


def test_a_graph_that_differs_per_sample_is_refused_naming_its_first_different_node():
    w = Value(1.0, "w")

    def f(x):  # the index of the largest input: the graph depends on the data
        k = max(range(2), key=lambda i: x[i].data)
        return (w * x[k]).tanh()

    with pytest.raises(ValueError,
                       match=r"check_inputs\[0\].*input x\[0\] in the first trace, x\[1\] here"):
        engine.compile(f, [1.0, 0.0], params=[w], check_inputs=[([0.0, 1.0],)])
    engine.compile(f, [1.0, 0.0], params=[w], check_inputs=[([2.0, 0.5],)])  # same graph


def test_a_number_read_off_the_data_is_refused_by_check_inputs():
    w = Value(1.0, "w")

    def f(x):  # a max shift taken from the data: a constant of the trace
        shift = Value(max(v.data for v in x))
        return Value.sum([(w * v - shift).exp() for v in x]).log()

    with pytest.raises(ValueError, match=r"constant .* read off the data"):
        engine.compile(f, [1.0, 0.0], params=[w], check_inputs=[([3.0, 0.0],)])


def test_inputs_of_the_wrong_shape_are_refused_with_the_inputs_name():
    w = Value(1.0)
    step = engine.compile(lambda x, y: w * x[0] + y, [1.0, 2.0], 3.0, params=[w])
    with pytest.raises(ValueError, match=r"input x has 3 entries; the example had 2$"):
        step([1.0, 2.0, 3.0], 1.0)
    with pytest.raises(ValueError, match="a batch is a NumPy array"):
        step([[1.0, 2.0]] * 3, [1.0] * 3)
    with pytest.raises(TypeError, match="takes 2 inputs"):
        step([1.0, 2.0])
    with pytest.raises(ValueError, match=r"shape \(B, 2\)"):
        step.backward(np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(TypeError, match="must return a Value"):
        engine.compile(lambda x: 3.0, 1.0)
    with pytest.raises(ValueError, match="computed by an operation"):
        engine.compile(lambda x: w * x, 1.0, params=[w * 2.0])
    with pytest.raises(TypeError, match="is a Value"):
        engine.compile(lambda x: w * x, Value(1.0), params=[w])


def test_numbers_given_to_a_program_are_read_as_value_reads_them():
    """An int past the float range is +-inf for Value (IEEE rounding), so for a program too,
    at tracing and at a call; a Value given where a number goes is refused, naming the input."""
    w = Value(2.0)
    step = engine.compile(lambda x: w * x, 1.0, params=[w])
    assert step(10**400) == (w * Value(10**400)).data == math.inf
    assert step(-(10**400)) == -math.inf
    assert engine.compile(lambda x: w * x, 10**400, params=[w])(1.0) == 2.0
    with pytest.raises(TypeError, match=r"input x .*Value: give its \.data"):
        step(Value(1.0))
    with pytest.raises(TypeError, match=r"input x \(a number, as in the example\) must be a real"):
        step("1.0")


def _mod_forward(x: float, y: float) -> float:
    return math.fmod(x, y)


def test_a_registered_op_without_an_array_form_compiles_slowly_and_says_which():
    register("fmod", Op(_mod_forward, (1.0, 0.0), 2))
    try:
        w = Value(5.0, "w")

        def f(x):
            return engine.apply("fmod", w * x, 3.0) * w

        step = engine.compile(f, 1.5, params=[w])
        expected_out, expected = engine_step(f, [w], 1.5)
        zero([w])
        assert step.backward(1.5) == expected_out and w.grad == expected[0]
        with pytest.warns(RuntimeWarning, match="'fmod'.*np.vectorize"):
            zero([w])
            out = step.backward(np.array([1.5, 2.0]))
        assert out[0] == expected_out and out[1] == engine_step(f, [w], 2.0)[0]
    finally:
        unregister("fmod")


@pytest.mark.parametrize("arity", [1, 2])
def test_a_registered_rule_without_an_array_form_gives_the_batch_its_gradients(arity):
    # a rule, not constants: the batch program maps it over the samples (one derivative or two)
    cube = Op(lambda x: x * x * x, lambda x, out: (3.0 * x * x,), 1)
    times = Op(lambda x, y: x * y, lambda x, y, out: (y, x), 2)
    register("my_op", cube if arity == 1 else times)
    try:
        w = Value(0.7, "w")

        def f(x):
            return engine.apply("my_op", w * x) if arity == 1 else engine.apply("my_op", w, x)

        step = engine.compile(f, 0.5, params=[w])
        X = [0.5, -2.0, 3.0]
        by_hand = [3 * (0.7 * x) ** 2 * x if arity == 1 else x for x in X]  # d f / d w
        with pytest.warns(RuntimeWarning, match="'my_op'.*np.vectorize"):
            zero([w])
            step.backward(np.array(X))
        assert w.grad == pytest.approx(sum(by_hand), rel=1e-12)
    finally:
        unregister("my_op")


def test_registered_ops_whose_names_read_alike_keep_their_own_functions():
    # "my-op" and "my_op" are both op_my_op as Python names, and a node may be labelled so
    register("my-op", Op(lambda x: x * x * x, lambda x, out: (3.0 * x * x,), 1))
    register("my_op", Op(lambda x: x * x, lambda x, out: (2.0 * x,), 1))
    try:
        w = Value(0.7, "w")

        def f(x):
            v = w * x
            v.label = "op_my_op"
            return engine.apply("my-op", v) + engine.apply("my_op", v)

        step = engine.compile(f, 0.5, params=[w])
        zero([w])
        out = step.backward(0.5)
        v = 0.7 * 0.5
        assert out == pytest.approx(v ** 3 + v ** 2, rel=1e-15)  # by hand
        assert w.grad == pytest.approx((3 * v * v + 2 * v) * 0.5, rel=1e-15)
        with pytest.warns(RuntimeWarning, match="np.vectorize"):
            assert step(np.array([0.5]))[0] == pytest.approx(v ** 3 + v ** 2, rel=1e-15)
    finally:
        unregister("my-op")
        unregister("my_op")


@pytest.mark.parametrize("arg", ["P", "G", "theta", "ones", "np", "tanh", "len"])
def test_an_argument_named_as_the_programs_own_names_is_renamed_not_shadowing_them(arg):
    # f's argument names the programs' inputs: P, theta, tanh... would shadow the programs' own
    w = Value(0.7, "w")
    f = eval(f"lambda {arg}: (w * {arg}).tanh()", {"w": w})
    step = engine.compile(f, 0.5, params=[w])
    t = math.tanh(0.7 * 0.5)
    zero([w])
    assert step.backward(0.5) == t and w.grad == (1 - t * t) * 0.5  # by hand, the same bits
    zero([w])
    assert step.backward(np.array([0.5, 0.5])).tolist() == pytest.approx([t, t], rel=1e-12)
    assert w.grad == pytest.approx(2 * (1 - t * t) * 0.5, rel=1e-12)


def test_importing_engine_does_not_import_numpy():
    code = "import sys, engine; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_source_shows_highlighted_in_jupyter_with_user_text_escaped():
    w = Value(1.0, "w")

    def f(x):
        z = w * x
        z.label = "<b>"
        return z

    step = engine.compile(f, 1.0, params=[w])
    assert "v1 = w * x  # <b>" in step.source  # not a Python name: v1, the label a comment
    html = step.source._repr_html_()
    assert "<b>" not in html.replace("<b>", "", 0) or "&lt;b&gt;" in html
    assert "&lt;b&gt;" in html
    assert step.source._repr_markdown_().startswith("```python\n")


def test_a_value_f_reads_but_params_does_not_list_is_named_in_a_warning():
    w, forgotten = Value(1.0, "w"), Value(2.0, "bias")
    with pytest.warns(TracerWarning, match=r"1 Value\(s\) made before the trace.*\(bias\)"):
        step = engine.compile(lambda x: w * x + forgotten, 1.0, params=[w])
    assert step(3.0) == 5.0  # its number is a constant of the program
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        engine.compile(lambda x: w * x + Value(2.0), 1.0, params=[w])  # made by f: a constant


def test_indexed_labels_are_the_programs_names_and_still_give_backwards_bits():
    W = [[Value(0.5 * (j - k), f"W1[{j},{k}]") for k in (1, 2)] for j in (1, 2)]
    b = [Value(0.1 * j, f"b1[{j}]") for j in (1, 2)]
    params = [p for row, bj in zip(W, b, strict=True) for p in (*row, bj)]

    def f(x):
        z = [Value.affine(row, x, bj) for row, bj in zip(W, b, strict=True)]
        for j, zj in enumerate(z, 1):
            zj.label = f"z1[{j}]"
        return Value.sum([zj.sigmoid() for zj in z])

    step = engine.compile(f, [1.0, 2.0], params=params)
    assert "z1[2] = b1[2] + W1[2,1] * x[0] + W1[2,2] * x[1]" in step.source
    assert "gW1[2,1] += x[0] * gz1[2]" in step.source
    assert "Z1 = W1 @ A0 + b1" in step.batch_source
    for x in ([1.0, 2.0], [-0.3, 0.7]):
        expected_out, expected = engine_step(f, params, x)
        zero(params)
        assert step.backward(x) == expected_out and grads(params) == expected


def test_exact_runs_a_batch_sample_by_sample_with_backwards_bits():
    mlp = nn.MLP(2, [3, 1], activation="tanh", seed=2)
    params = mlp.parameters()

    def loss(x, y):
        return (mlp(x)[0] - y) ** 2

    step = engine.compile(loss, [0.0, 0.0], 0.0, params=params)
    X, Y = np.array([[0.5, -1.0], [2.0, 0.25], [-0.3, 0.7]]), np.array([1.0, -1.0, 0.5])
    zero(params)
    outputs = [None] * 3
    for i, (x, y) in enumerate(zip(X.tolist(), Y.tolist(), strict=True)):  # backward() in turn
        root = loss([Value(v) for v in x], Value(y))
        root.backward()
        outputs[i] = root.data
    expected = grads(params)
    zero(params)
    assert step.backward(X, Y, exact=True).tolist() == outputs
    assert grads(params) == expected


def test_a_layer_used_twice_and_a_weight_read_alone_add_up_in_the_batch_program():
    mlp = nn.MLP(2, [3, 2], seed=4)
    params = mlp.parameters()
    w = mlp.layers[0].neurons[1].w[0]

    def f(x, y):  # the same network on two inputs, and one weight read on its own
        a, b = mlp(x[:2]), mlp(x[2:])
        return Value.sum([(p - q) ** 2 for p, q in zip(a, b, strict=True)]) + w * w * y

    step = engine.compile(f, [0.1, 0.2, 0.3, 0.4], 1.0, params=params)
    source = step.batch_source  # one pair of arrays, two passes: Z1 and Z1_2, both into gW1
    assert "Z1 = W1 @ S + b1" in source and "Z1_2 = W1 @ S1 + b1" in source
    assert source.count("gW1 += ") == 2 and "A1_2 = tanh(Z1_2)" in source
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(5, 4)), rng.normal(size=5)
    zero(params)
    outputs = step.backward(X, Y)
    got = np.array(grads(params))
    costs, expected = backward_summed(f, params, X, Y)
    assert np.allclose(outputs, costs, rtol=1e-12, atol=0)
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_without_pygments_the_source_is_shown_escaped(monkeypatch):
    w = Value(1.0, "w")

    def f(x):
        z = w * x
        z.label = "<i>&"
        return z

    monkeypatch.setitem(sys.modules, "pygments", None)  # import pygments now fails
    html = engine.compile(f, 1.0, params=[w]).source._repr_html_()
    assert html.startswith("<pre>") and "# &lt;i&gt;&amp;" in html and "<i>" not in html


@pytest.mark.parametrize("label", ["b\nc", "b\rc", "b\x00c", "b\ud800c", "b\u2028c"])
def test_a_label_that_is_no_line_of_source_is_an_escaped_comment_in_both_programs(label):
    w = Value(0.5, "w")

    def f(x):
        z = (w * x).tanh()
        z.label = label  # no Python name: the node is v<k>, its label a comment
        return z * x

    step = engine.compile(f, 0.3, params=[w])
    for source in (step.source, step.batch_source):
        assert "# " + repr(label)[1:-1] in source  # escaped as repr writes it: one line
    out, expected = engine_step(f, [w], 0.3)
    w.grad = 0.0
    assert step.backward(0.3) == out and w.grad == expected[0]
    w.grad = 0.0
    assert step.backward(np.array([0.3, 0.3])).tolist() == pytest.approx([out, out], rel=1e-12)
    assert w.grad == pytest.approx(2 * expected[0], rel=1e-12)  # NumPy's tanh: last bit


@pytest.mark.parametrize("name", ["a parameter", "an input", "no input", "a constant too",
                                  "twice"])
def test_outputs_of_every_kind_give_backwards_gradients_one_sample_and_batched(name):
    w = Value(2.0, "w")
    f = {"a parameter": lambda x: w, "an input": lambda x: x[0],
         "no input": lambda x: w * 3.0, "a constant too": lambda x: [w * x[0], Value(5.0)],
         "twice": lambda x: [w * x[0]] * 2}[name]
    step = engine.compile(f, [1.0], params=[w])
    X = np.array([[1.0], [2.0], [3.0]])
    outputs, expected = [], 0.0
    for x in X.tolist():
        out, (g,) = engine_step(f, [w], x)
        outputs.append(out)
        expected += g
    w.grad = 0.0
    assert [step.backward(x) for x in X.tolist()] == outputs and w.grad == expected
    w.grad = 0.0
    assert step.backward(X).tolist() == outputs and w.grad == expected


def test_parameters_listed_in_any_order_are_gathered_into_the_layers_arrays():
    mlp = nn.MLP(2, [3, 1], seed=1)
    params = mlp.parameters()[::-1]  # not evenly spaced rows of theta: gathered, scattered back

    def loss(x, y):
        return (mlp(x)[0] - y) ** 2

    step = engine.compile(loss, [0.0, 0.0], 0.0, params=params)
    assert "W1 = theta[W1_at]" in step.batch_source and "Z1 = W1 @ A0 + b1" in step.batch_source
    X, Y = np.random.default_rng(0).normal(size=(4, 2)), np.ones(4)
    _, expected = backward_summed(loss, params, X, Y)
    zero(params)
    step.backward(X, Y)
    assert np.allclose(grads(params), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("shared", ["a node of the sample", "a parameter", "a row of the layer",
                                    "the row itself"])
def test_an_op_over_every_row_of_a_layer_with_an_operand_they_share(shared):
    mlp = nn.MLP(2, [3, 3], activation="linear", seed=6)
    params = mlp.parameters()
    scale = Value(0.7, "scale")

    def f(x):
        z = mlp(x)
        other = {"a node of the sample": (x[0] * x[1]).tanh(), "a parameter": scale,
                 "a row of the layer": z[1]}.get(shared)
        return Value.sum([(zj - (zj if other is None else other)) * zj for zj in z])

    step = engine.compile(f, [0.1, 0.2], params=[*params, scale])
    if shared == "a node of the sample":
        assert "M = Z2 - v" in step.batch_source  # one line: broadcast over the rows
    X = np.random.default_rng(5).normal(size=(4, 2))
    expected = np.zeros(len(params) + 1)
    for x in X:
        expected += engine_step(f, [*params, scale], x)[1]
    zero([*params, scale])
    step.backward(X)
    assert np.allclose(grads([*params, scale]), expected, rtol=1e-12, atol=1e-14)


def test_the_batch_program_names_parameters_read_one_by_one_by_their_labels():
    w, b, clash = Value(0.5, "w"), Value(0.1, "b"), Value(2.0, "x")  # x: the argument's name

    def loss(x, y):
        return ((w * x + b).tanh() * clash - y) ** 2

    step = engine.compile(loss, 1.0, 0.0, params=[w, b, clash])
    source = step.batch_source
    assert "w, b, p = theta[0], theta[1], theta[2]" in source and "v1 = w * x" in source
    assert "gw = " in source and "G[0] += gw" in source and "G[2] += gp" in source
    X, Y = np.array([1.0, 2.0, -0.5]), np.array([0.5, -0.5, 0.0])
    zero([w, b, clash])
    step.backward(X, Y)
    got = grads([w, b, clash])
    _, expected = backward_summed(loss, [w, b, clash], X, Y)
    assert np.allclose(got, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("exact", [False, True])
def test_both_batch_routes_name_the_input_of_the_wrong_shape(exact):
    w = Value(1.0)
    step = engine.compile(lambda x, y: w * x[0] * y, [1.0, 2.0], 1.0, params=[w])
    with pytest.raises(ValueError, match=r"input x: a batch of it must have the shape \(B, 2\), "
                                         r"got \(3, 3\)"):
        step.backward(np.ones((3, 3)), np.ones(3), exact=exact)
    with pytest.raises(ValueError, match="input y has 4 samples, the first input 3"):
        step.backward(np.ones((3, 2)), np.ones(4), exact=exact)
