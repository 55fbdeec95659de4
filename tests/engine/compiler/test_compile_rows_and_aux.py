"""engine.compile: nodes that read whole blocks (a sum over a layer's outputs, log-sum-exp's
shift, a dot product of two blocks) as one NumPy call, and ``has_aux`` outputs computed beside
the differentiated ones. Oracles: Python's own left-to-right sum and ``max``, the engine's
``backward()`` sample by sample, and the same program compiled without aux."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn
from engine import Value
from engine.compiler.arrays import numpy_functions
from engine.derivatives import OPS

SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.5, math.inf, -math.inf, math.nan, 1e308, -1e-300]


def columns(draw_float, rows: int, cols: int):
    return st.lists(st.lists(draw_float, min_size=rows, max_size=rows), min_size=cols,
                    max_size=cols)


@given(st.integers(1, 12).flatmap(lambda n: st.integers(1, 4).flatmap(lambda b: columns(
    st.one_of(st.sampled_from(SPECIAL), st.floats(allow_nan=True, allow_infinity=True)), n, b))))
def test_sum_rows_and_max_shift_rows_give_the_floats_of_add_all_and_max_shift(cols):
    functions = numpy_functions()
    rows = np.array(cols, dtype=float).T  # a row per node, a column per sample
    for S in (rows, np.ascontiguousarray(rows)):  # NumPy's loops differ by layout
        with np.errstate(all="ignore"):  # as the program runs them
            sums = functions["sum_rows"](S)
            shifts = functions["max_shift_rows"](S)
            started = functions["sum_rows"](S, 0.5)
        for k, column in enumerate(cols):
            total = column[0]
            for x in column[1:]:  # add_all: left to right, from the first term
                total = total + x
            assert _bits(sums[k]) == _bits(OPS["sum"].forward(*column)) == _bits(total)
            assert _bits(started[k]) == _bits(OPS["sum"].forward(0.5, *column))
            assert _bits(shifts[k]) == _bits(OPS["max_shift"].forward(*column))


@pytest.mark.parametrize("samples", [1, 2, 33])
def test_sum_rows_adds_in_add_alls_order_where_numpy_would_pair_the_terms(samples):
    S = np.random.default_rng(samples).normal(size=(40, samples)) * 10.0 ** np.arange(-20, 20)[
        :, None]  # magnitudes from 1e-20 to 1e19: any other order rounds otherwise
    sums = numpy_functions()["sum_rows"](S)
    assert [_bits(x) for x in sums] == [_bits(OPS["sum"].forward(*S[:, k].tolist()))
                                        for k in range(samples)]


@pytest.mark.parametrize("samples", [1, 2, 3, 17, 64])
@pytest.mark.parametrize("layout", ["C", "F"])
def test_max_shift_rows_keeps_the_first_of_equal_zeros_as_pythons_max(samples, layout):
    """max(-0.0, 0.0) is -0.0 and max(0.0, -0.0) 0.0 (the first of equals); fmax may answer
    either, and 1 / shift tells them apart (-inf or inf)."""
    columns = [[-0.0, 0.0], [0.0, -0.0], [-1.0, -0.0, 0.0], [math.nan, -0.0, 0.0],
               [-2.0, math.nan, 0.0, -0.0]]
    shifts = numpy_functions()["max_shift_rows"]
    for column in columns:
        S = np.array([column] * samples, order=layout).T  # a row per operand
        S = np.ascontiguousarray(S) if layout == "C" else np.asfortranarray(S)
        expected = _bits(OPS["max_shift"].forward(*column))
        assert [_bits(x) for x in shifts(S)] == [expected] * samples, column


@pytest.mark.parametrize("rows", [1, 2, 5])
def test_sum_rows_of_negative_zeros_is_negative_zero_as_add_all(rows):
    """add_all(-0.0, -0.0) is -0.0; NumPy's reduce, started from add's identity 0.0, gives 0.0
    (a C-contiguous block of more than one column takes that path)."""
    S = np.full((rows, 3), -0.0)
    assert [_bits(x) for x in numpy_functions()["sum_rows"](S)] == [_bits(-0.0)] * 3


def _bits(x: float) -> str:
    return "nan" if math.isnan(x) else float(x).hex()


def test_softmax_cross_entropy_reads_its_blocks_whole_and_agrees_with_backward():
    mlp = nn.MLP(3, [5, 4], seed=3)
    params = mlp.parameters()
    loss = nn.losses.softmax_cross_entropy

    def cost(x, row):
        return loss.sample(mlp(x), row)

    step = engine.compile(cost, [0.0] * 3, [0.0] * 4, params=params)
    source = step.batch_source
    assert "max_shift_rows(Z2)" in source and "sum_rows(M1)" in source
    assert "sum_rows(rowT * Z2, 0.0)" in source and "gZ2 = rowT * " in source
    assert "Z2[3]" not in source  # no line of the program is written class by class
    rng = np.random.default_rng(4)
    X = rng.normal(size=(7, 3)) * 3
    labels = rng.integers(0, 4, size=7)
    rows = np.eye(4)[labels]
    for p in params:
        p.grad = 0.0
    outputs = step.backward(X, rows)
    got = [p.grad for p in params]
    expected, costs = np.zeros(len(params)), []
    for x, label in zip(X, labels, strict=True):
        for p in params:
            p.grad = 0.0
        c = loss.sample(mlp([Value(float(v)) for v in x]), int(label))
        c.backward()
        expected += [p.grad for p in params]
        costs.append(c.data)
    assert np.allclose(outputs, costs, rtol=1e-12, atol=0)
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_a_dot_product_of_one_block_with_itself_gets_both_terms():
    w = Value(0.5, "w")

    def f(x):
        z = [xk * w for xk in x]  # a block: the rows of x times one parameter
        return Value.affine(z, z, 1.0)  # 1 + sum_k (x_k w)^2

    step = engine.compile(f, [1.0, 2.0, 3.0], params=[w])
    source = step.batch_source
    assert "sum_rows(M * M, 1.0)" in source
    assert "gM = M * gv4" in source and "gM = gM + M * gv4" in source  # as w and as x
    X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    w.grad = 0.0
    out = step.backward(X)
    assert out.tolist() == pytest.approx((1 + ((X * 0.5) ** 2).sum(axis=1)).tolist(), rel=1e-15)
    assert w.grad == pytest.approx(2 * 0.5 * (X ** 2).sum(), rel=1e-15)  # d/dw: 2 w sum x^2


# -- random graphs over blocks: the batch program against backward() on each sample ----------

POOL = [Value(float(w)) for w in np.random.default_rng(7).uniform(-1.0, 1.0, size=48)]
STEPS = ["layer", "tanh", "neg", "shift", "sum", "sum part", "sum reversed", "sum mixed",
         "log-sum-exp", "dot", "dot params"]


def from_steps(steps: list[tuple[str, int]]):
    """f(x) built by ``steps`` over blocks (the inputs, layers of POOL's weights, maps) and
    nodes that read them: sums of a block, of part of it, in another order or with another
    node, log-sum-exp, dot products with a block or parameters, with a bias that is a number, a
    parameter, a node of the sample or a row. Every block is summed whole into the output, so a
    part of one is a part."""

    def f(x):
        weights = iter(POOL)
        blocks, nodes = [list(x)], [x[0] * 0.5]
        for kind, k in steps:
            block = blocks[k % len(blocks)]
            node = nodes[k % len(nodes)]
            if kind == "layer":
                blocks.append([Value.affine([next(weights) for _ in block], block, next(weights))
                               for _ in range(1 + k % 3)])
            elif kind in ("tanh", "neg", "shift"):
                blocks.append([{"tanh": v.tanh(), "neg": -v, "shift": v - node}[kind]
                               for v in block])
            elif kind.startswith("sum"):
                nodes.append(Value.sum({"sum": block, "sum part": block[:-1] or block,
                                        "sum reversed": block[::-1],
                                        "sum mixed": [*block, node]}[kind]))
            elif kind == "log-sum-exp":
                m = engine.apply("max_shift", *block)
                nodes.append(Value.sum([(v - m).exp() for v in block]).log() + m)
            else:
                other = [b for b in blocks if len(b) == len(block)][k % 2 - 1] \
                    if kind == "dot" else [next(weights) for _ in block]
                bias = [0.5, next(weights), node, block[0]][k % 4]
                nodes.append(Value.affine(block, other, bias))
        return Value.sum(nodes + [v for b in blocks for v in reversed(b)])
    return f


def path_scale(out: Value) -> dict:
    """For each node, the sum over the chain rule's paths to it of |the local derivatives'
    product|: how much adding its terms in another order may change its gradient."""
    from engine.derivatives import local_derivatives
    size = {out: 1.0}
    for node in engine.backward_order(out):
        for operand, local in local_derivatives(node):
            size[operand] = size.get(operand, 0.0) + abs(local) * size.get(node, 0.0)
    return size


def near(got, expected, scale) -> bool:
    """Within 1e-12 of ``scale`` where finite; the same inf or nan elsewhere."""
    got, expected, scale = (np.asarray(a, dtype=float) for a in (got, expected, scale))
    with np.errstate(invalid="ignore"):
        close = np.abs(got - expected) <= 1e-12 * scale + 1e-300
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))
    return bool(np.all(np.where(np.isfinite(expected) & np.isfinite(scale), close, same)))


@given(st.lists(st.tuples(st.sampled_from(STEPS), st.integers(0, 11)), min_size=1, max_size=6),
       st.integers(1, 3).flatmap(lambda n: st.lists(st.lists(st.one_of(
           st.floats(-3.0, 3.0), st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan])),
           min_size=n, max_size=n), min_size=1, max_size=4)),
       st.sampled_from("CF"))
def test_graphs_over_blocks_give_backward_summed_over_the_samples(steps, samples, order):
    f = from_steps(steps)
    step = engine.compile(f, [0.5] * len(samples[0]), params=POOL)
    outputs, total, scale = [], np.zeros(len(POOL)), np.zeros(len(POOL))
    for x in samples:
        for p in POOL:
            p.grad = 0.0
        out = f([Value(v) for v in x])
        out.backward()
        size = path_scale(out)
        outputs.append(out.data)
        with np.errstate(invalid="ignore"):  # inf + -inf: nan, as backward() would add
            total += [p.grad for p in POOL]
        scale += [size.get(p, 0.0) for p in POOL]
    X = np.array(samples, order=order)  # a batch in Fortran order makes C-contiguous blocks
    got, G = step.gradients(X)
    assert near(got, outputs, np.abs(outputs)), step.batch_source
    assert near(G, total, scale), step.batch_source


# -- has_aux: outputs beside the differentiated ones -----------------------------------------


def _network():
    mlp = nn.MLP(3, [4, 2], seed=1)
    loss = nn.losses.softmax_cross_entropy

    def with_logits(x, row):
        out = mlp(x)
        return loss.sample(out, row), out

    def without(x, row):
        return loss.sample(mlp(x), row)
    return mlp, with_logits, without


def test_has_aux_returns_the_logits_beside_the_loss_and_differentiates_the_loss_only():
    mlp, with_logits, without = _network()
    params = mlp.parameters()
    aux = engine.compile(with_logits, [0.0] * 3, [1.0, 0.0], params=params, has_aux=True)
    plain = engine.compile(without, [0.0] * 3, [1.0, 0.0], params=params)
    x = [0.1, -0.2, 0.3]
    logits = [v.data for v in mlp(x)]
    out, got = aux(x, [0.0, 1.0])
    assert out == plain(x, [0.0, 1.0]) and got == logits
    for p in params:
        p.grad = 0.0
    assert aux.backward(x, [0.0, 1.0]) == (out, logits)
    one = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    plain.backward(x, [0.0, 1.0])
    assert one == [p.grad for p in params]  # the logits add nothing to the gradients
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 3)), np.eye(2)[[0, 1, 1, 0, 1]]
    (outs, logits), G = aux.gradients(X, Y)
    outs_plain, G_plain = plain.gradients(X, Y)
    assert np.array_equal(G, G_plain) and np.array_equal(outs, outs_plain)
    expected = np.array([[v.data for v in mlp(list(row))] for row in X])
    assert logits.shape == (5, 2) and np.allclose(logits, expected, rtol=1e-13, atol=0)
    assert "return (v" in aux.batch_source and ", Z2)" in aux.batch_source  # the block whole
    assert "the aux (not differentiated)" in aux.source.splitlines()[1]  # the docstrings say
    assert "the aux (not differentiated)" in aux.batch_source.splitlines()[1]
    exact_outs, exact_logits = aux.backward(X, Y, exact=True)
    assert np.allclose(exact_outs, outs, rtol=1e-12) and np.array_equal(exact_logits.shape,
                                                                         (5, 2))
    forward_outs, forward_logits = aux(X, Y)
    assert np.array_equal(forward_outs, outs) and np.array_equal(forward_logits, logits)


def test_has_aux_takes_one_value_a_node_off_the_loss_path_and_an_input():
    w = Value(2.0, "w")

    def f(x):
        return (w * x) ** 2, (x * 3.0).exp()  # the aux reads no parameter

    step = engine.compile(f, 1.0, params=[w], has_aux=True)
    assert step(0.5) == (1.0, math.exp(1.5))
    X = np.array([0.5, 1.0])
    (out, aux), G = step.gradients(X)
    assert out.tolist() == [1.0, 4.0] and aux.tolist() == pytest.approx(np.exp(3 * X).tolist())
    assert G.tolist() == [2 * 2.0 * (0.25 + 1.0)]  # d/dw sum (w x)^2 = 2 w sum x^2
    echo = engine.compile(lambda x: (w * x, x), 1.0, params=[w], has_aux=True)
    X = np.array([0.5, 1.0])
    _, echoed = echo(X)
    echoed[0] = 99.0
    assert X[0] == 0.5  # the input comes back as a new array, not the caller's


def test_has_aux_refuses_a_result_that_is_not_a_pair_and_check_inputs_compares_the_aux():
    w = Value(1.0)
    with pytest.raises(TypeError, match=r"has_aux=True\): f must return a pair"):
        engine.compile(lambda x: w * x, 1.0, params=[w], has_aux=True)
    with pytest.raises(TypeError, match="the aux of f must be a Value or a non-empty list"):
        engine.compile(lambda x: (w * x, "logits"), 1.0, params=[w], has_aux=True)

    def f(x):
        return w * x, ([x] if x.data > 0 else [x, x * 2.0])

    with pytest.raises(ValueError, match="f returned 2 aux values, not 1"):
        engine.compile(f, 1.0, params=[w], has_aux=True, check_inputs=[(-1.0,)])


def test_check_inputs_refuses_an_f_that_picks_its_aux_or_its_output_by_the_data():
    """The same nodes in both traces, but f returns other ones: the program would return the
    first trace's, silently."""
    w = Value(2.0)

    def swapped_aux(x):
        out = w * x[0] + x[1]
        return out, ([x[0], x[1]] if x[0].data > 0 else [x[1], x[0]])

    def swapped_output(x):
        a, b = w * x[0], w * x[1]
        return (a, b) if x[0].data > 0 else (b, a)

    for f, what in ((swapped_aux, "aux 0"), (swapped_output, "its output")):
        with pytest.raises(ValueError, match=rf"check_inputs\[0\], f returns another node "
                                             rf"as {what} here"):
            engine.compile(f, [1.0, 5.0], params=[w], has_aux=True,
                           check_inputs=[([-1.0, 5.0],)])
    engine.compile(swapped_aux, [1.0, 5.0], params=[w], has_aux=True,
                   check_inputs=[([2.0, -5.0],)])  # the same choice: the same program


def test_check_inputs_says_when_the_aux_is_a_value_in_one_trace_and_a_list_in_the_other():
    w = Value(1.0)

    def f(x):
        return w * x, (x if x.data > 0 else [x])

    with pytest.raises(ValueError, match="f returned its aux as a list here, as a Value in "
                                         "the first trace"):
        engine.compile(f, 1.0, params=[w], has_aux=True, check_inputs=[(-1.0,)])


def test_the_outputs_and_the_aux_are_arrays_of_their_own_even_of_the_same_nodes():
    """f returns the logits as its outputs and one of them as aux (or the same node twice):
    changing the outputs the caller got must not change the aux."""
    mlp = nn.MLP(3, [4, 2], seed=1)
    X = np.random.default_rng(5).normal(size=(4, 3))
    for f in (lambda x: (lambda z: (z, z[0]))(mlp(x)), lambda x: (lambda z: (z, z))(mlp(x)),
              lambda x: (lambda s: (s, s))(Value.sum(mlp(x)))):
        step = engine.compile(f, [0.0] * 3, params=mlp.parameters(), has_aux=True)
        for out, aux in (step(X), step.gradients(X)[0], step.backward(X)):
            kept = aux.copy()
            out *= 2.0
            assert np.array_equal(aux, kept)


def test_exact_on_an_empty_batch_gives_empty_outputs_and_aux():
    w = Value(2.0)
    step = engine.compile(lambda x: (w * x, x * 3.0), 1.0, params=[w], has_aux=True)
    out, aux = step.backward(np.zeros(0), exact=True)
    assert out.shape == aux.shape == (0,) and w.grad == 0.0


def test_exact_keeps_the_batch_programs_shapes_for_several_outputs_and_no_samples():
    w = Value(2.0)
    step = engine.compile(lambda x: ([w * x, w + x], [x, x * 3.0, w]), 1.0, params=[w],
                          has_aux=True)
    X = np.array([1.0, 2.0, 3.0])
    (out, aux), (out_exact, aux_exact) = step(X), step.backward(X, exact=True)
    assert out_exact.shape == out.shape == (3, 2) and aux_exact.shape == aux.shape == (3, 3)
    out_none, aux_none = step.backward(np.zeros(0), exact=True)  # (the batch program
    assert out_none.shape == (0, 2) and aux_none.shape == (0, 3)  # refuses no samples)
    plain = engine.compile(lambda x: [w * x, w + x], 1.0, params=[w])
    assert plain.backward(np.zeros(0), exact=True).shape == (0, 2)
