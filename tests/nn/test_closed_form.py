"""nn.closed_form: the lecture notes' matrix formulas against the engine, against central
differences, and the matrix-form trainer against the scalar engine step for step."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nn import MLP, losses, optim
from nn.closed_form import MatrixTrainer, backprop, compare, read_weights, write_weights

NAMED = ["tanh", "sigmoid", "relu", "leaky_relu", "linear"]
LOSSES = ["mse", "hinge", "bce_with_logits", "softmax_cross_entropy"]


@st.composite
def problems(draw):
    """A random MLP (1-4 layers, widths 1-6, any activations), a batch and targets for a loss."""
    loss = losses.LOSSES[draw(st.sampled_from(LOSSES))]
    if draw(st.booleans()):
        loss = type(loss)(reduction="sum")
    nin = draw(st.integers(1, 6))
    widths = draw(st.lists(st.integers(1, 6), min_size=0, max_size=3))
    if loss.name in ("hinge", "bce_with_logits"):
        nout = 1
    elif loss.name == "softmax_cross_entropy":
        nout = draw(st.integers(2, 6))
    else:
        nout = draw(st.integers(1, 6))
    hidden, output = draw(st.sampled_from(NAMED)), draw(st.sampled_from(NAMED))
    mlp = MLP(nin, [*widths, nout], hidden, output, seed=draw(st.integers(0, 2**32)))
    n = draw(st.integers(1, 5))
    X = draw(st.lists(st.lists(st.floats(-2, 2), min_size=nin, max_size=nin), min_size=n,
                      max_size=n))
    if loss.name == "mse":
        target = st.lists(st.floats(-2, 2), min_size=nout, max_size=nout)
    elif loss.name == "hinge":
        target = st.sampled_from([-1.0, 1.0])
    elif loss.name == "bce_with_logits":
        target = st.sampled_from([0.0, 1.0]) | st.floats(0, 1)
    else:
        target = st.integers(0, nout - 1)
    y = draw(st.lists(target, min_size=n, max_size=n))
    penalty = losses.L2Penalty(draw(st.sampled_from([0.0, 0.01, 0.5])))
    return mlp, X, y, loss, penalty


@given(problems())
def test_engine_gradients_equal_the_closed_form_and_delta_equals_z_grad(problem):
    mlp, X, y, loss, penalty = problem
    closed = backprop(mlp, X, y, loss, penalty)
    differences = compare(mlp, X, y, loss, penalty)
    assert len(differences) == len(mlp.layers)
    # relative to the largest gradient of the network (single entries, even whole saturated
    # layers, may be ~1e-17 with rounding-sized differences), absolute below 1e-6
    scale = max(max(np.max(np.abs(a)) for a in (*closed.dW, *closed.db, *closed.delta)), 1e-6)
    for diff in differences:
        assert max(diff.dW, diff.db, diff.delta) <= 1e-9 * scale, (diff, scale)
    # compare() leaves the engine's gradients in the MLP: check them against the closed form too
    for layer, want_W, want_b in zip(mlp.layers, closed.dW, closed.db, strict=True):
        got_W = np.array([[w.grad for w in n.w] for n in layer.neurons])
        got_b = np.array([n.b.grad for n in layer.neurons])
        np.testing.assert_allclose(got_W, want_W, rtol=0, atol=1e-9 * scale)
        np.testing.assert_allclose(got_b, want_b, rtol=0, atol=1e-9 * scale)


@pytest.mark.parametrize("loss_name", LOSSES)
@pytest.mark.parametrize("output", ["linear", "sigmoid"])
def test_closed_form_matches_central_differences_of_its_own_loss(loss_name, output):
    """The matrix formulas against finite differences of the matrix forward pass: no engine."""
    loss = losses.LOSSES[loss_name]
    nout = 3 if loss_name in ("mse", "softmax_cross_entropy") else 1
    mlp = MLP(2, [4, 3, nout], "tanh", output, seed=11)
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(5, 2))
    y = {"mse": rng.uniform(-1, 1, size=(5, 3)).tolist(), "hinge": [1.0, -1.0, 1.0, 1.0, -1.0],
         "bce_with_logits": [0.0, 1.0, 0.3, 1.0, 0.0],
         "softmax_cross_entropy": [0, 2, 1, 1, 0]}[loss_name]
    penalty = losses.L2Penalty(0.1)
    closed = backprop(mlp, X, y, loss, penalty)
    Ws, bs = read_weights(mlp)
    h = 1e-6
    for k in range(len(Ws)):
        for arrays, grad in ((Ws, closed.dW[k]), (bs, closed.db[k])):
            numeric = np.zeros_like(arrays[k])
            for idx in np.ndindex(arrays[k].shape):
                values = []
                for step in (h, -h):
                    arrays[k][idx] += step
                    write_weights(mlp, Ws, bs)
                    values.append(backprop(mlp, X, y, loss, penalty).loss)
                    arrays[k][idx] -= step
                numeric[idx] = (values[0] - values[1]) / (2 * h)
            write_weights(mlp, Ws, bs)
            np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_closed_form_loss_equals_the_engine_loss():
    mlp = MLP(3, [5, 2], "relu", seed=2)
    X = [[0.1, 0.2, 0.3], [-1.0, 0.5, 2.0]]
    y = [1, 0]
    engine = losses.softmax_cross_entropy([mlp(x) for x in X], y)
    assert backprop(mlp, X, y, losses.softmax_cross_entropy).loss == pytest.approx(engine.data,
                                                                                  rel=1e-14)


def test_bad_inputs_name_the_problem():
    mlp = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        backprop(mlp, [[1.0, 2.0, 3.0]], [0.0])
    with pytest.raises(ValueError, match="2 inputs but 1 targets"):
        backprop(mlp, [[1.0, 2.0], [3.0, 4.0]], [0.0])
    with pytest.raises(ValueError, match="custom activation 'softplus'"):
        def softplus(v):
            return (v.exp() + 1).log()
        backprop(MLP(2, [3, 1], softplus, seed=0), [[1.0, 2.0]], [0.0])
    with pytest.raises(ValueError, match="layer 0 needs W of shape"):
        write_weights(mlp, [np.zeros((2, 2)), np.zeros((1, 3))], [np.zeros(3), np.zeros(1)])


def test_read_and_write_weights_round_trip():
    mlp = MLP(2, [3, 2], seed=0)
    Ws, bs = read_weights(mlp)
    assert Ws[0].shape == (3, 2) and bs[1].shape == (2,)
    assert Ws[1][1, 2] == mlp.layers[1].neurons[1].w[2].data
    other = MLP(2, [3, 2], seed=1)
    write_weights(other, Ws, bs)
    assert [p.data for p in other.parameters()] == [p.data for p in mlp.parameters()]


# -- the matrix-form trainer --------------------------------------------------------------------


@pytest.mark.parametrize(("loss_name", "momentum", "weight_decay", "alpha"), [
    ("mse", 0.0, 0.0, 0.0), ("hinge", 0.9, 0.0, 0.0), ("bce_with_logits", 0.0, 0.01, 0.001),
    ("softmax_cross_entropy", 0.5, 0.001, 0.0)])
def test_matrix_trainer_follows_the_scalar_engine_for_k_steps(loss_name, momentum, weight_decay,
                                                              alpha):
    loss = losses.LOSSES[loss_name]
    nout = 3 if loss_name == "softmax_cross_entropy" else 1
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, size=(12, 2)).tolist()
    y = {"mse": rng.uniform(-1, 1, 12).tolist(), "hinge": rng.choice([-1.0, 1.0], 12).tolist(),
         "bce_with_logits": rng.choice([0.0, 1.0], 12).tolist(),
         "softmax_cross_entropy": rng.integers(0, 3, 12).tolist()}[loss_name]
    penalty = losses.L2Penalty(alpha) if alpha else None
    scalar = MLP(2, [6, 5, nout], "tanh", seed=9)
    matrix = MLP(2, [6, 5, nout], "tanh", seed=9)
    trainer = MatrixTrainer(matrix, loss, lr=0.1, momentum=momentum, weight_decay=weight_decay,
                            penalty=penalty)
    opt = optim.SGD(scalar.parameters(), lr=0.1, momentum=momentum, weight_decay=weight_decay)
    Y = trainer.targets(y)
    for _ in range(25):
        C = loss([scalar(x) for x in X], y)
        if penalty:
            C = C + penalty(scalar.parameters())
        opt.zero_grad()
        C.backward()
        opt.step()
        assert trainer.step(X, Y) == pytest.approx(C.data, rel=1e-9)
    trainer.write()
    got = np.array([p.data for p in matrix.parameters()])
    want = np.array([p.data for p in scalar.parameters()])
    assert np.max(np.abs(got - want)) <= 1e-10
    assert np.max(np.abs(want - [p.data for p in MLP(2, [6, 5, nout], seed=9).parameters()])) > 0.01


def test_matrix_trainer_reads_changed_weights():
    mlp = MLP(1, [2, 1], seed=0)
    trainer = MatrixTrainer(mlp, lr=0.5)
    for p in mlp.parameters():
        p.data = 0.0
    trainer.read()
    assert all(not W.any() for W in trainer.Ws)
    trainer.step([[1.0]], [1.0])  # C = (b2 - 1)^2: only the output bias moves, by 0.5 * 2
    trainer.write()
    assert mlp.layers[1].neurons[0].b.data == pytest.approx(1.0)
    assert mlp.layers[0].neurons[0].w[0].data == 0.0


def test_matrix_trainer_step_refuses_arrays_of_the_wrong_shape():
    mlp = MLP(2, [4, 3], seed=0)
    trainer = MatrixTrainer(mlp, losses.softmax_cross_entropy)
    X = np.array([[0.1, 0.2], [0.3, -0.4]])
    before = [W.copy() for W in trainer.Ws]
    # labels as an array of shape (N,) would broadcast against the (K, N) outputs
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*got shape \(2,\)"):
        trainer.step(X, np.array([0, 2]))
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*got shape \(3, 3\)"):
        trainer.step(X, trainer.targets([0, 2, 1]))
    with pytest.raises(ValueError, match=r"shape \(N, 2\), got shape \(2, 3\)"):
        trainer.step(np.zeros((2, 3)), trainer.targets([0, 2]))
    with pytest.raises(ValueError, match="2 inputs but 1 targets"):
        trainer.step(X, [0])
    assert all((W == W0).all() for W, W0 in zip(trainer.Ws, before, strict=True))
    assert trainer.step(X, np.array([0, 2])[:, None] == np.arange(3)) > 0  # a one-hot array


def test_backprop_and_compare_refuse_targets_of_the_wrong_shape():
    mlp = MLP(2, [3, 2], seed=0)
    X = [[0.1, 0.2], [0.3, -0.4]]
    for f in (backprop, compare):
        with pytest.raises(ValueError, match="a target must be 2 number"):
            f(mlp, X, np.array([0.5, 1.0]))
        with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
            f(mlp, np.zeros((2, 3)), [[0.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize(("option", "value"), [("lr", -1), ("lr", "0.1"), ("lr", float("nan")),
                                               ("momentum", -0.5), ("weight_decay", True)])
def test_matrix_trainer_checks_its_hyper_parameters_as_sgd_does(option, value):
    mlp = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match=f"{option} must be a finite number >= 0"):
        optim.SGD(mlp.parameters(), **{option: value})
    with pytest.raises(ValueError, match=f"{option} must be a finite number >= 0"):
        MatrixTrainer(mlp, **{option: value})


def test_write_weights_takes_nested_lists():
    mlp = MLP(2, [3, 2], seed=0)
    Ws, bs = read_weights(mlp)
    other = MLP(2, [3, 2], seed=1)
    write_weights(other, [W.tolist() for W in Ws], [b.tolist() for b in bs])
    assert [p.data for p in other.parameters()] == [p.data for p in mlp.parameters()]
    assert all(type(p.data) is float for p in other.parameters())
    with pytest.raises(ValueError, match=r"layer 1 needs W of shape \(2, 3\)"):
        write_weights(other, [Ws[0], [[1.0, 2.0]]], bs)
    with pytest.raises(ValueError, match="layer 0: W and b must be arrays of numbers"):
        write_weights(other, [[[1.0, 2.0], [1.0]], Ws[1]], bs)
