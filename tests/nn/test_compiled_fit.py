"""fit(..., compiled=True), predict and accuracy with compiled=True, mlp.compile(loss): the
compiled program trains on the interpreted fit's batches to the same weights (1e-12 relative),
with its History, errors and Ctrl-C behaviour. The oracle is the interpreted fit, whose
gradients the engine's tests check against closed forms, finite differences and PyTorch."""

import math

import numpy as np
import pytest
from ctrl_c import ctrl_c_at

from nn import MLP, data, losses, optim, train
from nn.compiled import ArrayTraining

TOLERANCE = 1e-12


def weights(mlp):
    return np.array([p.data for p in mlp.parameters()])


def close(a, b, tolerance=TOLERANCE):
    """Equal to ``tolerance`` relative to the largest magnitude (weights near 0 included)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.abs(a - b).max() <= tolerance * max(np.abs(a).max(), np.abs(b).max(), 1e-300)


def digits_subset(n=300):
    train_set, _ = data.digits()
    return train_set.X[:n], train_set.y[:n]


CASES = {  # name: (data, sizes, loss, optimizer, fit options)
    "digits softmax SGD": (digits_subset, [64, 16, 10], losses.softmax_cross_entropy,
                           lambda ps: optim.SGD(ps, lr=0.1), {"batch_size": 32}),
    "moons bce Adam": (lambda: data.moons(90, noise=0.1, seed=0), [2, 8, 8, 1],
                       losses.bce_with_logits, lambda ps: optim.Adam(ps, lr=0.05),
                       {"batch_size": 16}),
    "moons hinge momentum, penalty": (lambda: data.moons(60, noise=0.05, seed=1).signed(),
                                      [2, 8, 1], losses.hinge,
                                      lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                      {"batch_size": 16, "penalty": losses.L2Penalty(1e-3)}),
    "curve mse sum, decay": (lambda: data.curve(40, seed=0), [1, 6, 1],
                             losses.MeanSquaredError(reduction="sum"),
                             lambda ps: optim.SGD(ps, lr=0.01, weight_decay=0.01),
                             {"batch_size": 7}),
    "relu, one batch": (lambda: data.xor(24, seed=0), [2, 5, 1], losses.bce_with_logits,
                        lambda ps: optim.Adam(ps, lr=0.1), {}),
    "custom activation": (lambda: data.xor(24, seed=1), [2, 5, 1], losses.bce_with_logits,
                          lambda ps: optim.Adam(ps, lr=0.1), {"batch_size": 5}),
}
ACTIVATIONS = {"relu, one batch": "relu", "custom activation": lambda z: z.sin()}


def train_both(name, epochs=2, seed=3):
    make_data, sizes, loss, make_optimizer, options = CASES[name]
    X, y = make_data()
    activation = ACTIVATIONS.get(name, "tanh")
    runs = []
    for compiled in (False, True):
        mlp = MLP(sizes[0], sizes[1:], activation=activation, seed=0)
        optimizer = make_optimizer(mlp.parameters())
        history = train.fit(mlp, X, y, loss, optimizer=optimizer, epochs=epochs, seed=seed,
                            progress=False, compiled=compiled, **options)
        runs.append((mlp, optimizer, history))
    return X, y, loss, runs


@pytest.mark.parametrize("name", list(CASES))
def test_compiled_fit_gives_the_interpreted_weights_history_and_optimizer_state(name):
    _, _, _, [(mlp, optimizer, history), (twin, twin_optimizer, twin_history)] = train_both(name)
    assert close(weights(mlp), weights(twin))
    assert close(history.loss, twin_history.loss)
    assert twin_history.accuracy == history.accuracy  # the same predictions, counted alike
    assert list(map(type, twin_history.accuracy)) == list(map(type, history.accuracy))  # floats
    # (or None), so the History prints alike: not np.float64(0.5)
    for name_, value in vars(optimizer).items():
        if isinstance(value, list) and value and isinstance(value[0], float):
            assert close(value, getattr(twin_optimizer, name_)), name_
    assert getattr(optimizer, "t", None) == getattr(twin_optimizer, "t", None)
    assert all(type(p.data) is float and p.grad == 0.0 for p in twin.parameters())


def test_one_digits_epoch_of_the_benchmark_gives_the_same_weights():
    """The issue's check: the digits workload (MLP(64, [32, 10]), batches of 32, SGD lr 0.1)."""
    train_set, _ = data.digits()
    twins = []
    for compiled in (False, True):
        mlp = MLP(64, [32, 10], init="xavier", seed=0)
        train.fit(mlp, train_set.X, train_set.y, losses.softmax_cross_entropy, epochs=1,
                  batch_size=32, shuffle=False, progress=False, compiled=compiled,
                  optimizer=optim.SGD(mlp.parameters(), lr=0.1))
        twins.append(weights(mlp))
    assert close(*twins) and not close(twins[0], weights(MLP(64, [32, 10], init="xavier",
                                                             seed=0)))


def test_an_optimizer_of_some_parameters_leaves_the_others_frozen_compiled_too():
    X, y = data.xor(16, seed=0)
    runs = []
    for compiled in (False, True):
        mlp = MLP(2, [3, 1], seed=0)
        first = weights(mlp)[:9]
        train.fit(mlp, X, y, losses.bce_with_logits, epochs=5, batch_size=4, seed=0,
                  optimizer=optim.SGD(mlp.layers[1].parameters(), lr=0.5), progress=False,
                  compiled=compiled)
        assert (weights(mlp)[:9] == first).all()
        runs.append(weights(mlp))
    assert close(*runs)


def test_predict_and_accuracy_compiled_agree_with_the_interpreted_ones():
    X, y = digits_subset(200)
    mlp = MLP(64, [16, 10], seed=1)
    interpreted, compiled = train.predict(mlp, X), train.predict(mlp, X, compiled=True)
    assert len(compiled) == len(X) and all(len(row) == 10 for row in compiled)
    assert close(interpreted, compiled)
    loss = losses.softmax_cross_entropy
    assert train.accuracy(mlp, X, y, loss, compiled=True) == train.accuracy(mlp, X, y, loss)
    assert train.predict(mlp, [], compiled=True) == []


def test_a_nan_step_stops_both_alike_and_keeps_the_weights_from_before_it():
    X, y = data.moons(40, noise=0.1, seed=0)
    X = [list(row) for row in X]
    X[13][1] = math.nan  # sample 13: the step whose batch holds it
    errors, kept = [], []
    for compiled in (False, True):
        mlp = MLP(2, [4, 1], seed=0)
        with pytest.raises(train.NonFiniteError) as caught:
            train.fit(mlp, X, y, losses.bce_with_logits, epochs=3, batch_size=8,
                      shuffle=False, progress=False, compiled=compiled)
        errors.append(str(caught.value))
        kept.append(weights(mlp))
    assert errors[0] == errors[1] and "epoch 1 of 3, step 2 of 5: the loss is nan" in errors[0]
    assert close(*kept) and np.isfinite(kept[1]).all()


@pytest.mark.parametrize("chosen", [slice(None, None, -1), slice(None, 5, -1)])
def test_a_step_to_inf_names_the_models_first_bad_parameter_whatever_the_optimizers_order(
        chosen):
    """The optimizer lists the parameters backwards (all of them, or the last layer's): a step
    so large that several become inf names the first in the model's order, in both fits."""
    X, y = data.curve(8, seed=0)
    y = [100.0 * t for t in y]
    errors = []
    for compiled in (False, True):
        mlp = MLP(1, [3, 1], seed=0)
        optimizer = optim.SGD(mlp.parameters()[chosen], lr=1e307)
        with pytest.raises(train.NonFiniteError) as caught:
            train.fit(mlp, X, y, losses.MeanSquaredError(reduction="sum"), epochs=1,
                      optimizer=optimizer, progress=False, compiled=compiled)
        errors.append(str(caught.value))
    assert errors[0] == errors[1] and "the step made parameter" in errors[0]


def test_ctrl_c_in_a_compiled_step_keeps_the_whole_steps_and_the_history():
    X, y = data.xor(16, seed=0)
    reference = MLP(2, [4, 1], seed=0)
    done = train.fit(reference, X, y, losses.bce_with_logits, epochs=2, batch_size=4, seed=0,
                     optimizer=optim.Adam(reference.parameters(), lr=0.05), progress=False,
                     compiled=True)  # 8 whole steps
    mlp = MLP(2, [4, 1], seed=0)
    optimizer = optim.Adam(mlp.parameters(), lr=0.05)
    with (ctrl_c_at(ArrayTraining.step.__code__, 4, call=9),
          pytest.raises(KeyboardInterrupt) as caught):
        train.fit(mlp, X, y, losses.bce_with_logits, epochs=10, batch_size=4, seed=0,
                  optimizer=optimizer, progress=False, compiled=True)
    assert caught.value.history == done
    assert (weights(mlp) == weights(reference)).all() and optimizer.t == 8
    assert all(p.grad == 0.0 for p in mlp.parameters())


def test_ctrl_c_at_any_line_of_a_compiled_step_leaves_it_undone_or_done_whole():
    """Ctrl-C at each line of the 9th step in turn: the model and Adam hold the numbers after
    8 or after 9 whole steps (Ctrl-C as the 9th or the 10th step starts), never a mix."""
    X, y = data.xor(16, seed=0)

    def interrupted(line, call):
        mlp = MLP(2, [4, 1], seed=0)
        optimizer = optim.Adam(mlp.parameters(), lr=0.05)
        with ctrl_c_at(ArrayTraining.step.__code__, line, call=call):
            try:
                train.fit(mlp, X, y, losses.bce_with_logits, epochs=10, batch_size=4, seed=0,
                          optimizer=optimizer, progress=False, compiled=True)
            except KeyboardInterrupt as stop:
                return mlp, optimizer, stop.history
        return None  # the step has fewer lines: it ran whole, and so did fit

    whole = {}
    for call in (9, 10):
        mlp, optimizer, history = interrupted(1, call)
        whole[optimizer.t] = (weights(mlp), optimizer.m, history)
    assert set(whole) == {8, 9} and whole[8][2] == whole[9][2]  # 2 epochs of 4 steps
    seen, line = set(), 1
    while (run := interrupted(line, 9)) is not None:
        mlp, optimizer, history = run
        expected_weights, expected_m, expected_history = whole[optimizer.t]
        assert (weights(mlp) == expected_weights).all() and optimizer.m == expected_m, line
        assert history == expected_history and all(p.grad == 0.0 for p in mlp.parameters())
        seen.add(optimizer.t)
        line += 1
    assert seen == {8, 9} and line > 10


def test_compiled_fit_names_a_bad_row_and_refuses_values():
    mlp = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match=r"fit: X\[1\] expects 2 inputs, got 3"):
        train.fit(mlp, [[0.0, 1.0], [1.0, 2.0, 3.0]], [0, 1], losses.bce_with_logits,
                  progress=False, compiled=True)
    with pytest.raises(TypeError, match=r"fit: X\[0\] holds Values"):
        train.fit(mlp, [mlp.parameters()[:2]], [1], losses.bce_with_logits, progress=False,
                  compiled=True)


def test_mlp_compile_reads_as_the_lecture_and_gives_backwards_gradients():
    X, y = digits_subset(20)
    mlp = MLP(64, [8, 10], seed=0)
    loss = losses.softmax_cross_entropy
    step = mlp.compile(loss)
    assert "W1[" in step.source and "max_shift(" in step.source
    step.backward(np.array(X), loss.targets_matrix(y, 10))
    compiled = [p.grad for p in mlp.parameters()]
    mlp.zero_grad()
    loss.__class__(reduction="sum")([mlp(x) for x in X], y).backward()
    assert close(compiled, [p.grad for p in mlp.parameters()])
    with pytest.raises(TypeError, match=r"compile needs an nn\.losses loss"):
        mlp.compile("mse")


def test_the_compiled_network_takes_theta_for_a_batch_and_refuses_it_for_one_sample():
    from nn.compiled import compile_outputs
    mlp = MLP(2, [3, 2], seed=0)
    outputs = compile_outputs(mlp, named=False)
    X = np.array([[0.5, -1.0], [1.0, 2.0]])
    theta = outputs.parameter_array()
    assert close(outputs(X, theta=theta), train.predict(mlp, X.tolist()))
    assert not close(outputs(X, theta=2.0 * theta), outputs(X))  # theta, not the Values
    with pytest.raises(TypeError, match="theta= is for a batch"):
        outputs([0.5, -1.0], theta=theta)


@pytest.mark.skipif(not hasattr(Exception, "add_note"), reason="notes are Python 3.11+")
def test_a_loss_whose_sample_picks_by_the_label_says_why_it_cannot_be_traced():
    class PickedSquare(losses.Loss):
        name = "picked_square"

        def sample(self, output, target):  # the graph depends on the label: not traceable
            return (output[target] - 1.0) ** 2

    mlp = MLP(2, [3, 2], seed=0)
    with pytest.raises(TypeError) as caught:
        train.fit(mlp, [[0.0, 1.0]], [1], PickedSquare(), progress=False, compiled=True)
    assert "PickedSquare.sample on a target row of Values" in "".join(caught.value.__notes__)
    train.fit(mlp, [[0.0, 1.0]], [1], PickedSquare(), progress=False, epochs=1)  # interpreted
