"""nn.losses: values against their textbook formulas, gradients against central differences,
stability at extreme logits, target checking."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine import Value
from engine.testing import numeric_grad
from nn import losses


def softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def check_gradients(loss, outputs, targets, rel=1e-6):
    """d loss / d output against central differences; outputs is a list of per-sample lists."""
    flat = [x for out in outputs for x in out]
    widths = [len(out) for out in outputs]

    def f(*values):
        it = iter(values)
        return loss([[next(it) for _ in range(w)] for w in widths], targets)

    leaves = [Value(x) for x in flat]
    it = iter(leaves)
    loss([[next(it) for _ in range(w)] for w in widths], targets).backward()
    for leaf, num in zip(leaves, numeric_grad(f, *flat), strict=True):
        assert leaf.grad == pytest.approx(num, rel=rel, abs=rel)


logits = st.floats(-30, 30)


@given(st.lists(st.lists(st.floats(-3, 3), min_size=2, max_size=2), min_size=1, max_size=4),
       st.data())
def test_mse_is_the_mean_over_samples_of_the_summed_squares(outputs, data):
    targets = data.draw(st.lists(st.lists(st.floats(-3, 3), min_size=2, max_size=2),
                                 min_size=len(outputs), max_size=len(outputs)))
    got = losses.mse([[Value(a) for a in out] for out in outputs], targets).data
    want = sum((a - y) ** 2 for out, ys in zip(outputs, targets, strict=True)
               for a, y in zip(out, ys, strict=True)) / len(outputs)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-300)
    check_gradients(losses.mse, outputs, targets)
    summed = losses.MeanSquaredError(reduction="sum")
    assert summed([[Value(a) for a in out] for out in outputs], targets).data == pytest.approx(
        want * len(outputs), rel=1e-12, abs=1e-300)


def test_mse_accepts_a_number_per_sample_for_one_output_and_a_bare_value():
    assert losses.mse([Value(3.0), [Value(1.0)]], [1.0, 2]).data == (4.0 + 1.0) / 2


@given(st.lists(logits, min_size=1, max_size=5), st.data())
def test_hinge(scores, data):
    labels = data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=len(scores),
                                max_size=len(scores)))
    got = losses.hinge([[Value(s)] for s in scores], labels).data
    want = sum(max(0.0, 1.0 - y * s) for s, y in zip(scores, labels, strict=True)) / len(scores)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-300)
    if all(abs(1.0 - y * s) > 1e-3 for s, y in zip(scores, labels, strict=True)):  # off the kink
        check_gradients(losses.hinge, [[s] for s in scores], labels)


@given(st.lists(logits, min_size=1, max_size=5), st.data())
def test_bce_with_logits(zs, data):
    ys = data.draw(st.lists(st.floats(0, 1), min_size=len(zs), max_size=len(zs)))
    got = losses.bce_with_logits([[Value(z)] for z in zs], ys).data
    want = sum(softplus(z) - y * z for z, y in zip(zs, ys, strict=True)) / len(zs)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
    check_gradients(losses.bce_with_logits, [[z] for z in zs], ys)


def test_bce_gradient_is_sigmoid_minus_y_even_at_zero():
    z = Value(0.0)
    losses.bce_with_logits([[z]], [1.0]).backward()
    assert z.grad == pytest.approx(0.5 - 1.0, rel=1e-15)  # no kink: sigmoid(0) - y


@given(st.lists(st.lists(logits, min_size=3, max_size=3), min_size=1, max_size=4), st.data())
def test_softmax_cross_entropy(outputs, data):
    ys = data.draw(st.lists(st.integers(0, 2), min_size=len(outputs), max_size=len(outputs)))
    got = losses.softmax_cross_entropy([[Value(a) for a in out] for out in outputs], ys).data
    want = 0.0
    for out, y in zip(outputs, ys, strict=True):
        m = max(out)
        want += m + math.log(sum(math.exp(a - m) for a in out)) - out[y]
    assert got == pytest.approx(want / len(outputs), rel=1e-9, abs=1e-12)
    check_gradients(losses.softmax_cross_entropy, outputs, ys)


def test_softmax_gradient_is_softmax_minus_one_hot():
    a = [Value(1.0), Value(2.0), Value(-1.0)]
    losses.softmax_cross_entropy([a], [1]).backward()
    total = sum(math.exp(v.data) for v in a)
    for k, v in enumerate(a):
        assert v.grad == pytest.approx(math.exp(v.data) / total - (k == 1), rel=1e-14)


@pytest.mark.parametrize("z", [1000.0, -1000.0, 1e300, -1e300])
def test_logit_losses_stay_finite_at_extreme_logits(z):
    for y in (0.0, 1.0):
        x = Value(z)
        c = losses.bce_with_logits([[x]], [y])
        c.backward()
        assert c.data == pytest.approx(softplus(z) - y * z, rel=1e-15)
        assert x.grad == (1.0 if z > 0 else 0.0) - y
    a = [Value(z), Value(0.0), Value(-z)]
    c = losses.softmax_cross_entropy([a], [1])
    c.backward()
    assert c.data == pytest.approx(abs(z), rel=1e-15)
    assert [v.grad for v in a] == [1.0 if z > 0 else 0.0, -1.0, 0.0 if z > 0 else 1.0]


def test_l2_penalty():
    params = [Value(1.0), Value(-2.0), Value(0.5)]
    c = losses.L2Penalty(0.1)(params)
    assert c.data == pytest.approx(0.1 * (1 + 4 + 0.25), rel=1e-15)
    c.backward()
    assert [p.grad for p in params] == pytest.approx([0.2, -0.4, 0.1], rel=1e-15)
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        losses.L2Penalty(-1)


def test_predictions():
    assert losses.hinge.predict([0.3]) == 1.0 and losses.hinge.predict([-0.3]) == -1.0
    assert losses.bce_with_logits.predict([0.3]) == 1 and losses.bce_with_logits.predict([-2]) == 0
    assert losses.softmax_cross_entropy.predict([0.1, 3.0, -1.0]) == 1
    assert losses.mse.predict([0.3]) is None


def test_bad_targets_and_shapes_name_the_problem():
    one, two = [[Value(0.5)]], [[Value(0.5), Value(1.0)]]
    with pytest.raises(ValueError, match="hinge: labels must be -1 or \\+1, got 0"):
        losses.hinge(one, [0])
    with pytest.raises(ValueError, match="hinge needs an MLP with exactly 1 output, got 2"):
        losses.hinge(two, [1])
    with pytest.raises(ValueError, match="a target must be a number in \\[0, 1\\], got 2"):
        losses.bce_with_logits(one, [2])
    with pytest.raises(ValueError, match=r"class index in 0\.\.1, got 2"):
        losses.softmax_cross_entropy(two, [2])
    with pytest.raises(ValueError, match="at least 2 outputs"):
        losses.softmax_cross_entropy(one, [0])
    with pytest.raises(ValueError, match="mse: a target must be 2 number"):
        losses.mse(two, [1.0])
    with pytest.raises(ValueError, match="1 outputs but 2 targets"):
        losses.mse(one, [1.0, 2.0])
    with pytest.raises(ValueError, match="empty batch"):
        losses.mse([], [])
    with pytest.raises(TypeError, match="list of per-sample outputs"):
        losses.mse(Value(1.0), [1.0])
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'"):
        losses.MeanSquaredError(reduction="none")


@pytest.mark.parametrize("loss", list(losses.LOSSES.values()), ids=list(losses.LOSSES))
@pytest.mark.parametrize(("outputs", "given_type"), [
    ([[0.5, 0.5]], "list"),  # floats (e.g. predictions) instead of the model's Values
    ([0.5], "float"),  # a row that is not a sequence at all
    ([[Value(0.5), 0.5]], "list"),  # a Value and a float
    ([[]], "list"),
    (["ab"], "str")])
def test_outputs_that_are_not_values_name_the_sample(loss, outputs, given_type):
    with pytest.raises(TypeError, match=f"output of sample 0 must be a Value .*got {given_type}"):
        loss(outputs, [1])
    with pytest.raises(TypeError, match="output of sample 1 must be"):
        loss([[Value(0.5)] * (2 if loss is losses.softmax_cross_entropy else 1), *outputs], [1, 1])


@pytest.mark.parametrize(("name", "nout", "targets"), [
    ("mse", 1, [0.5, -1.0]), ("mse", 2, [[0.5, 1.0], [0.0, 2.0]]), ("hinge", 1, [1, -1]),
    ("bce_with_logits", 1, [0.0, 0.25]), ("softmax_cross_entropy", 3, [2, 0])])
def test_targets_matrix_is_n_by_nout_even_when_empty(name, nout, targets):
    loss = losses.LOSSES[name]
    assert loss.targets_matrix(targets, nout).shape == (2, nout)
    assert loss.targets_matrix([], nout).shape == (0, nout)


# -- trace-friendly: one graph for every sample (what engine.compile traces once) ----------------

SAMPLES = {  # per loss: (nout, two (logits, label) samples whose labels and largest logit differ)
    "mse": (2, [([0.3, -1.2], [0.5, 1.0]), ([2.0, 0.1], [-1.0, 0.0])]),
    "hinge": (1, [([0.3], 1), ([-2.0], -1)]),
    "bce_with_logits": (1, [([0.3], 1.0), ([-2.0], 0.25)]),
    "softmax_cross_entropy": (3, [([0.3, -1.2, 2.0], 0), ([5.0, 0.1, -0.4], 2)]),
}


def graph_of(loss, logits, target):
    """The ops of one sample's graph, oldest first, and the numbers of its constant leaves
    (leaves that are neither the logits nor the target's Values)."""
    output = [Value(a) for a in logits]
    row = [Value(r) for r in loss.row(target, len(logits))]
    nodes = engine.ancestors(loss.sample(output, row))
    inputs = {*output, *row}
    return ([node.op for node in nodes],
            [node.data for node in nodes if not node.parents and node not in inputs])


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_sample_has_the_same_graph_and_constants(name):
    """What a trace bakes in is the same for every sample: no label picks a node, no constant
    comes from the data (softmax's shift was max(logits) as a number, a different one each)."""
    loss = losses.LOSSES[name]
    _, (first, second) = SAMPLES[name]
    assert graph_of(loss, *first) == graph_of(loss, *second)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_a_target_row_of_values_gives_the_labels_cost_and_gradients(name):
    loss = losses.LOSSES[name]
    nout, samples = SAMPLES[name]
    for logits, label in samples:
        by_label = [Value(a) for a in logits]
        by_row = [Value(a) for a in logits]
        row = [Value(r) for r in loss.row(label, nout)]
        cost, traced = loss.sample(by_label, label), loss.sample(by_row, row)
        cost.backward()
        traced.backward()
        assert traced.data == cost.data
        assert [a.grad for a in by_row] == [a.grad for a in by_label]


def test_rows_are_the_targets_as_numbers_and_the_classes_one_hot():
    assert losses.softmax_cross_entropy.row(1, 3) == [0.0, 1.0, 0.0]
    assert losses.mse.row([2, 0.5], 2) == [2.0, 0.5] and losses.mse.row(3, 1) == [3.0]
    assert losses.hinge.row(-1, 1) == [-1.0] and losses.bce_with_logits.row(1, 1) == [1.0]
    with pytest.raises(ValueError, match=r"class index in 0\.\.2, got 3"):
        losses.softmax_cross_entropy.row(3, 3)
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: a target of Values is the row "
                                         r"of 3 number\(s\) .*got 2 Values"):
        losses.softmax_cross_entropy.sample([Value(0.0)] * 3, [Value(0.0), Value(1.0)])


def test_the_scale_is_one_over_n_for_the_mean_and_one_for_the_sum():
    assert losses.mse.scale(4) == 0.25 and losses.mse.scale(1) == 1.0
    assert losses.MeanSquaredError(reduction="sum").scale(4) == 1.0
