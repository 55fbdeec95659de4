"""nn.Neuron, nn.Layer, nn.MLP: shapes, parameter order, seeded init, activations, the expanded
form, trace, and gradients against central differences."""

import itertools
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nn
from engine import Value
from engine.testing import numeric_grad
from nn import MLP, Layer, Neuron, train

NAMED = ["tanh", "sigmoid", "relu", "leaky_relu", "linear"]
REFERENCE = {  # the activations written out from their definitions
    "tanh": math.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z)),
    "relu": lambda z: max(z, 0.0),
    "leaky_relu": lambda z: z if z > 0 else 0.01 * z,
    "linear": lambda z: z,
}


def reference_forward(mlp, x):
    """The MLP's output computed with plain floats from its weights."""
    a = list(x)
    for layer in mlp.layers:
        s = REFERENCE[layer.activation]
        a = [s(sum(w.data * xi for w, xi in zip(n.w, a, strict=True)) + n.b.data)
             for n in layer.neurons]
    return a


architectures = st.tuples(st.integers(1, 4), st.lists(st.integers(1, 5), min_size=1, max_size=4),
                          st.sampled_from(NAMED), st.sampled_from(NAMED), st.integers(0, 2**32))


# -- shapes and outputs ---------------------------------------------------------------------------


@pytest.mark.parametrize("nouts", [[1], [1, 1], [3, 1], [2, 2, 2]])
def test_calling_always_returns_a_list(nouts):
    mlp = MLP(2, nouts, seed=0)
    out = mlp([0.5, -1.0])
    assert isinstance(out, list) and len(out) == nouts[-1]
    assert all(isinstance(v, Value) for v in out)
    layer_out = Layer(2, 1, seed=0)([1.0, 2.0])
    assert isinstance(layer_out, list) and len(layer_out) == 1


@given(architectures, st.lists(st.floats(-2, 2), min_size=4, max_size=4))
def test_output_matches_a_float_reimplementation(arch, xs):
    nin, nouts, hidden, output, seed = arch
    mlp = MLP(nin, nouts, hidden, output, seed=seed)
    x = xs[:nin]
    assert [v.data for v in mlp(x)] == pytest.approx(reference_forward(mlp, x), rel=1e-12,
                                                     abs=1e-12)


def test_inputs_may_be_numbers_values_or_tuples_and_are_checked():
    mlp = MLP(3, [2], seed=1)
    expected = [v.data for v in mlp([1.0, 2.0, 3.0])]
    assert [v.data for v in mlp((1, 2, 3))] == expected
    assert [v.data for v in mlp([Value(1.0), 2, Value(3.0)])] == expected
    with pytest.raises(ValueError, match="expects 3 inputs, got 2"):
        mlp([1.0, 2.0])
    with pytest.raises(TypeError, match="input 1 must be a real number or a Value, not str"):
        mlp([1.0, "2", 3.0])
    with pytest.raises(TypeError, match="sequence of 3 inputs"):
        mlp(1.0)
    with pytest.raises(TypeError, match="sequence of 3 inputs"):
        mlp(Value(1.0))


def test_constructor_arguments_are_checked():
    with pytest.raises(ValueError, match="nin must be a positive int"):
        MLP(0, [1])
    with pytest.raises(ValueError, match="a layer size must be a positive int"):
        MLP(2, [3, 0])
    with pytest.raises(TypeError, match="nouts must be a non-empty list"):
        MLP(2, 3)
    with pytest.raises(TypeError, match="nouts must be a non-empty list"):
        MLP(2, [])
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        MLP(2, [1], "gelu")
    with pytest.raises(TypeError, match="activation must be a name"):
        MLP(2, [1], 3)
    with pytest.raises(ValueError, match="unknown init 'normal'"):
        MLP(2, [1], init="normal")
    with pytest.raises(TypeError, match="seed must be an int"):
        MLP(2, [1], seed="0")
    with pytest.raises(ValueError, match="needs 2 weights, got 3"):
        Neuron(2, weights=[1.0, 2.0, 3.0])


# -- parameters ---------------------------------------------------------------------------------


def test_parameter_order_is_layer_neuron_weights_then_bias():
    mlp = MLP(2, [3, 2], seed=0)
    expected = []
    for layer in mlp.layers:
        for neuron in layer.neurons:
            expected += [*neuron.w, neuron.b]
    params = mlp.parameters()
    assert len(params) == (2 + 1) * 3 + (3 + 1) * 2 == 17
    assert all(p is q for p, q in zip(params, expected, strict=True))
    assert mlp.layers[1].parameters() == expected[9:]
    assert all(not p.parents for p in params)  # leaves


def test_zero_grad_resets_every_parameter():
    mlp = MLP(2, [3, 1], seed=0)
    mlp([1.0, -1.0])[0].backward()
    assert any(p.grad for p in mlp.parameters())
    mlp.zero_grad()
    assert all(p.grad == 0.0 for p in mlp.parameters())


def test_repr_is_readable():
    mlp = MLP(2, [16, 16, 1], seed=0)
    assert repr(mlp) == "MLP(2 -> 16 tanh -> 16 tanh -> 1 linear; 337 params)"
    assert repr(mlp.layers[0]) == "Layer(nin=2, nout=16, activation='tanh')"
    assert repr(mlp.layers[2].neurons[0]) == "Neuron(nin=16, activation='linear')"


# -- initialization -------------------------------------------------------------------------------


def test_same_seed_same_weights_and_a_shared_random_continues():
    def weights(**kw):
        return [p.data for p in MLP(3, [4, 2], **kw).parameters()]
    assert weights(seed=7) == weights(seed=7)
    assert weights(seed=7) != weights(seed=8)
    assert weights(seed=random.Random(7)) == weights(seed=7)
    rng = random.Random(7)
    first, second = weights(seed=rng), weights(seed=rng)
    assert first != second  # the second MLP continues the same stream
    assert weights() != weights()  # None: fresh randomness


def test_uniform_init_draws_weights_then_bias_per_neuron_from_uniform_minus_one_one():
    rng = random.Random(3)
    expected = [rng.uniform(-1, 1) for _ in range(3 * 2 + 2 * 4)]
    assert [p.data for p in MLP(2, [2, 1], seed=3).parameters()][:6] == expected[:6]
    assert all(-1 <= p.data <= 1 for p in MLP(5, [50], seed=0).parameters())


@pytest.mark.parametrize(("init", "limit"), [("xavier", math.sqrt(6 / (40 + 30))),
                                              ("he", math.sqrt(6 / 40))])
def test_xavier_and_he_limits_and_zero_biases(init, limit):
    layer = Layer(40, 30, init=init, seed=0)
    weights = [w.data for n in layer.neurons for w in n.w]
    assert max(abs(w) for w in weights) <= limit
    assert max(abs(w) for w in weights) > 0.95 * limit  # the whole range is used
    assert all(n.b.data == 0.0 for n in layer.neurons)


# -- activations ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMED)
def test_named_activations(name):
    neuron = Neuron(2, name, weights=[0.5, -1.5], bias=0.25)
    for x in ([1.0, 1.0], [1.0, -1.0]):
        z = 0.5 * x[0] - 1.5 * x[1] + 0.25
        assert neuron(x).data == pytest.approx(REFERENCE[name](z), rel=1e-15)
    assert neuron.activation == name and neuron.activation_name == name


def test_linear_output_is_the_affine_node_itself():
    trace = MLP(2, [3, 2], seed=0).trace([1.0, 2.0])
    assert all(a is z for a, z in zip(trace[1].a, trace[1].z, strict=True))
    assert all(a is not z and a.op == "tanh" for a, z in zip(trace[0].a, trace[0].z, strict=True))
    assert {z.op for t in trace for z in t.z} == {"affine"}


def test_callable_activation():
    def softplus(v):
        return (v.exp() + 1).log()
    mlp = MLP(1, [2, 1], softplus, seed=0)
    assert mlp.layers[0].activation is softplus
    assert mlp.layers[0].activation_name == "softplus"
    assert repr(mlp) == "MLP(1 -> 2 softplus -> 1 linear; 7 params)"
    out = mlp([0.5])[0]
    neurons = mlp.layers[0].neurons
    hidden = [math.log1p(math.exp(n.w[0].data * 0.5 + n.b.data)) for n in neurons]
    last = mlp.layers[1].neurons[0]
    expected = sum(w.data * h for w, h in zip(last.w, hidden, strict=True)) + last.b.data
    assert out.data == pytest.approx(expected, rel=1e-14)
    with pytest.raises(TypeError, match="must return a Value, not float"):
        MLP(1, [1, 1], lambda v: 1.0, seed=0)([0.5])


def test_an_unhashable_callable_is_a_fine_activation():
    class Softplus:  # defines __eq__ without __hash__: unhashable, like many callable objects
        __name__ = "softplus"

        def __eq__(self, other):
            return isinstance(other, Softplus)

        def __call__(self, v):
            return (v.exp() + 1).log()

    mlp = MLP(1, [2, 1], Softplus(), seed=0)
    reference = MLP(1, [2, 1], lambda v: (v.exp() + 1).log(), seed=0)
    assert mlp([0.5])[0].data == reference([0.5])[0].data


# -- the expanded form and trace -----------------------------------------------------------------


@given(architectures, st.lists(st.floats(-2, 2), min_size=4, max_size=4))
def test_expanded_form_gives_identical_values_and_gradients(arch, xs):
    nin, nouts, hidden, output, seed = arch
    compact = MLP(nin, nouts, hidden, output, seed=seed)
    expanded = MLP(nin, nouts, hidden, output, seed=seed, expanded=True)
    x = xs[:nin]
    out_c, out_e = Value.sum(compact(x)), Value.sum(expanded(x))
    assert out_c.data == out_e.data
    out_c.backward()
    out_e.backward()
    assert [p.grad for p in compact.parameters()] == [p.grad for p in expanded.parameters()]


def test_expanded_form_shows_every_multiplication():
    z = MLP(3, [1], seed=0, expanded=True).trace([1.0, 2.0, 3.0])[0].z[0]
    assert z.op == "sum" and len(z.parents) == 4
    assert [p.op for p in z.parents] == ["", "*", "*", "*"]  # the bias, then w_i * x_i


def test_the_neurons_own_the_expanded_flag():
    compact, mixed = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=0)
    mixed.layers[0].neurons[1].expanded = True  # one neuron, inside a layer: honoured
    assert mixed.layers[0].expanded and mixed.expanded and not compact.expanded
    x = [0.3, -0.7]
    z = mixed.trace(x)[0].z
    assert [v.op for v in z] == ["affine", "sum", "affine"]
    for op in ("__call__", "trace"):  # the fast call path and the traced path
        out_c = Value.sum(compact(x)) if op == "__call__" else compact.trace(x)[-1].a[0]
        out_m = Value.sum(mixed(x)) if op == "__call__" else mixed.trace(x)[-1].a[0]
        compact.zero_grad()
        mixed.zero_grad()
        out_c.backward()
        out_m.backward()
        assert out_c.data == out_m.data
        assert [p.grad for p in compact.parameters()] == [p.grad for p in mixed.parameters()]
    mixed.expanded = True  # the MLP's setter reaches every neuron
    assert all(n.expanded for layer in mixed.layers for n in layer.neurons)
    mixed.expanded = False
    assert not any(n.expanded for layer in mixed.layers for n in layer.neurons)
    assert all(v.op == "affine" for v in mixed.trace(x)[0].z)


def test_from_neurons_keeps_the_neurons_flags_unless_told():
    neurons = [Neuron(2, seed=i, expanded=i == 1) for i in range(2)]
    layer = Layer.from_neurons(neurons)
    assert [v.op for v in layer.trace([1.0, 2.0]).z] == ["affine", "sum"]
    layer = Layer.from_neurons(neurons, expanded=True)
    assert all(n.expanded for n in neurons)
    assert [v.op for v in layer([1.0, 2.0])] == ["tanh", "tanh"]
    assert all(v.parents[0].op == "sum" for v in layer([1.0, 2.0]))


def test_trace_gives_the_graph_values_of_every_layer():
    mlp = MLP(2, [3, 2, 1], "sigmoid", seed=4)
    x = [0.3, -0.7]
    trace = mlp.trace(x)
    assert len(trace) == 3 and all(isinstance(t, nn.LayerTrace) for t in trace)
    assert [len(t.z) for t in trace] == [3, 2, 1]
    assert [v.data for v in trace[0].inputs] == x
    for before, after in itertools.pairwise(trace):
        assert after.inputs == before.a  # the same Values: one graph
    assert [v.data for v in trace[-1].a] == [v.data for v in mlp(x)]


def test_trace_z_grad_is_the_hand_derived_delta():
    """A 1-1-1 network by hand: C = (a2 - y)^2, a2 = z2 = w2 a1 + b2, a1 = tanh(z1)."""
    mlp = MLP(1, [1, 1], seed=0)
    w1, b1 = mlp.layers[0].neurons[0].w[0].data, mlp.layers[0].neurons[0].b.data
    w2, b2 = mlp.layers[1].neurons[0].w[0].data, mlp.layers[1].neurons[0].b.data
    x, y = 0.8, 0.1
    trace = mlp.trace([x])
    ((trace[-1].a[0] - y) ** 2).backward()
    a1 = math.tanh(w1 * x + b1)
    delta2 = 2 * (w2 * a1 + b2 - y)
    delta1 = w2 * delta2 * (1 - a1 * a1)
    assert trace[1].z[0].grad == pytest.approx(delta2, rel=1e-14)
    assert trace[0].z[0].grad == pytest.approx(delta1, rel=1e-14)
    assert mlp.layers[0].neurons[0].w[0].grad == pytest.approx(delta1 * x, rel=1e-14)
    assert mlp.layers[1].neurons[0].b.grad == pytest.approx(delta2, rel=1e-14)


@given(architectures, st.lists(st.floats(-1, 1), min_size=4, max_size=4))
def test_parameter_gradients_match_central_differences(arch, xs):
    nin, nouts, hidden, output, seed = arch
    mlp = MLP(nin, nouts, hidden, output, seed=seed)
    x = xs[:nin]
    params = mlp.parameters()
    start = [p.data for p in params]

    def f(*ps):  # the sum of squared outputs as a function of every parameter
        for p, v in zip(params, ps, strict=True):
            p.data = v.data
        return Value.sum([o * o for o in mlp(x)])

    numeric = numeric_grad(f, *start)
    for p, v in zip(params, start, strict=True):
        p.data = v
    f(*[Value(v) for v in start]).backward()
    for p, num in zip(params, numeric, strict=True):
        if hidden in ("relu", "leaky_relu") or output in ("relu", "leaky_relu"):
            tol = 1e-4  # a kink within a step of the point is possible but rare
        else:
            tol = 1e-6
        assert p.grad == pytest.approx(num, rel=tol, abs=tol)


# -- the engine's Value.affine_layer, which layers are built with ------------------------------


@given(st.integers(1, 5), st.integers(1, 4), st.integers(0, 2**32))
def test_affine_layer_equals_one_affine_per_row(nin, nout, seed):
    rng = random.Random(seed)
    rows = [[Value(rng.uniform(-1, 1)) for _ in range(nin)] for _ in range(nout)]
    biases = [Value(rng.uniform(-1, 1)) for _ in range(nout)]
    x = [Value(rng.uniform(-2, 2)) for _ in range(nin)]
    layer = Value.affine_layer(rows, x, biases)
    single = [Value.affine(w, x, b) for w, b in zip(rows, biases, strict=True)]
    assert [z.data for z in layer] == [z.data for z in single]
    for z, w, b in zip(layer, rows, biases, strict=True):
        assert z.op == "affine" and z.parents == (*w, *x, b)
        assert z.data == pytest.approx(sum(wi.data * xi.data for wi, xi in zip(w, x, strict=True))
                                       + b.data, rel=1e-12, abs=1e-12)


def test_affine_layer_lifts_numbers_and_names_bad_operands():
    z = Value.affine_layer([[Value(2.0), 3.0]], [Value(1.0), 2], [0.5])[0]
    assert z.data == 2.0 + 6.0 + 0.5 and len(z.parents) == 5
    with pytest.raises(ValueError, match="one bias per row, got 1 rows and 2 biases"):
        Value.affine_layer([[Value(1.0)]], [Value(1.0)], [Value(0.0), Value(0.0)])
    with pytest.raises(ValueError, match="as many weights as inputs"):
        Value.affine_layer([[Value(1.0)]], [Value(1.0), Value(2.0)], [Value(0.0)])
    with pytest.raises(TypeError, match="must be a real number"):
        Value.affine_layer([[Value(1.0)]], ["x"], [Value(0.0)])


def test_affine_layer_records_nothing_under_no_grad():
    from engine import no_grad
    with no_grad():
        z = Value.affine_layer([[Value(1.0)]], [Value(2.0)], [Value(0.5)])[0]
        a = Value.affine_layer([[Value(1.0)]], [Value(2.0)], [Value(0.5)], "relu")[0]
    assert z.data == 2.5 and z.parents == () and z.op == ""
    assert a.data == 2.5 and a.parents == () and a.op == ""


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "exp"])
def test_affine_layer_with_an_activation_builds_z_then_a(activation):
    rows = [[Value(0.5), Value(-1.5)], [Value(2.0), Value(0.25)]]
    biases, x = [Value(0.1), Value(-0.3)], [Value(1.0), Value(-2.0)]
    outs = Value.affine_layer(rows, x, biases, activation)
    for a, w, b in zip(outs, rows, biases, strict=True):
        z = a.parents[0]
        assert a.op == activation and len(a.parents) == 1 and z.op == "affine"
        assert z.parents == (*w, *x, b)
        assert a.data == getattr(Value.affine(w, x, b), activation)().data
    assert Value.affine_layer(rows, [1.0, -2.0], biases, "tanh")[1].op == "tanh"  # lifted path
    with pytest.raises(ValueError, match="must name a one-operand operation, got 'leaky_relu'"):
        Value.affine_layer(rows, x, biases, "leaky_relu")
    with pytest.raises(ValueError, match="got 'softmax'"):
        Value.affine_layer(rows, x, biases, "softmax")


def test_affine_layer_under_detect_anomaly_names_the_operation():
    from engine import detect_anomaly
    with detect_anomaly(), pytest.raises(FloatingPointError, match="exp produced inf"):
        Value.affine_layer([[Value(1000.0)]], [Value(1.0)], [Value(0.0)], "exp")


def test_an_unpickled_expanded_neuron_is_still_expanded_in_a_new_process():
    """Layers skip reading their neurons' flags until some neuron was expanded in this process;
    an unpickled neuron sets its flag through the property, so its layer still sees it."""
    import pickle
    import subprocess
    import sys

    layer = Layer(2, 2, "linear")
    layer.neurons[0].expanded = True
    script = ("import pickle, sys\n"
              "layer = pickle.loads(sys.stdin.buffer.read())\n"
              "print([z.op for z in layer([1.0, 2.0])])\n")
    result = subprocess.run([sys.executable, "-c", script], input=pickle.dumps(layer),
                            capture_output=True, check=True, text=False)
    assert result.stdout.decode().split() == ["['sum',", "'affine']"]


@pytest.mark.parametrize("batch", [[[0.5] * 4] * 5, [[0.5] * 4] * 4, ((0.5,) * 4,) * 3],
                         ids=["5 rows", "4 rows of 4 (as many as the inputs)", "tuples"])
def test_a_batch_is_named_as_one_with_how_to_run_it(batch):
    mlp = MLP(4, [3, 1], seed=0)
    with pytest.raises((ValueError, TypeError),
                       match=rf"MLP takes one sample \(4 numbers\), got a batch of {len(batch)} "
                             r"rows: run it on each sample \(\[model\(x\) for x in X\]\), or "
                             r"nn\.train\.predict\(model, X\)"):
        mlp(batch)
    assert [[a.data for a in mlp(x)] for x in batch] == train.predict(mlp, batch)
    with pytest.raises(ValueError, match=r"^Layer takes one sample \(4 numbers\), got a batch "
                                         r"of 5 rows: run it on each sample \(\[model\(x\) for x "
                                         r"in X\]\)$"):
        mlp.layers[0]([[0.5] * 4] * 5)
    with pytest.raises(ValueError, match=r"^MLP expects 4 inputs, got 3$"):
        mlp([0.5, 0.5, 0.5])  # too few numbers is no batch
