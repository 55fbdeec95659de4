"""nn.train: the moons reach 100 % training accuracy, history, batches, seeds, the progress bar."""

import pytest
from ctrl_c import ctrl_c_at

from nn import MLP, data, losses, optim, train


def test_moons_reach_full_training_accuracy():
    X, y = data.moons(100, noise=0.1, seed=0)
    mlp = MLP(2, [16, 16, 1], seed=0)
    history = train.fit(mlp, X, y, loss=losses.bce_with_logits, epochs=40, seed=0,
                        optimizer=optim.Adam(mlp.parameters(), lr=0.05), progress=False)
    assert len(history.loss) == len(history.accuracy) == 40
    assert history.loss[-1] < history.loss[0] / 5
    assert train.accuracy(mlp, X, y, losses.bce_with_logits) == 1.0


def test_hinge_on_signed_labels_with_minibatches():
    d = data.moons(60, noise=0.05, seed=1).signed()
    mlp = MLP(2, [8, 1], seed=2)
    history = train.fit(mlp, d.X, d.y, loss=losses.hinge, epochs=30, batch_size=16, seed=0,
                        optimizer=optim.SGD(mlp.parameters(), lr=0.1, momentum=0.9),
                        penalty=losses.L2Penalty(1e-4), progress=False)
    assert history.accuracy[-1] >= 0.9
    assert train.accuracy(mlp, d.X, d.y, losses.hinge) >= 0.9


def test_history_loss_is_the_epoch_mean_and_regression_has_no_accuracy():
    X, y = data.curve(12, seed=0)
    mlp = MLP(1, [4, 1], seed=0)
    before = losses.mse([mlp(x) for x in X], y).data
    history = train.fit(mlp, X, y, epochs=1, optimizer=optim.SGD(mlp.parameters(), lr=0.0),
                        batch_size=5, progress=False)  # lr 0: the loss of the untouched model
    assert history.loss == [pytest.approx(before, rel=1e-12)]
    assert history.accuracy == [None]


def test_same_seed_same_training():
    X, y = data.xor(40, seed=0)

    def run(seed):
        mlp = MLP(2, [6, 1], seed=0)
        train.fit(mlp, X, y, loss=losses.bce_with_logits, epochs=3, batch_size=8, seed=seed,
                  progress=False)
        return [p.data for p in mlp.parameters()]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_progress_bar_reports_epochs(capsys):
    X, y = data.xor(8, seed=0)
    train.fit(MLP(2, [2, 1], seed=0), X, y, loss=losses.bce_with_logits, epochs=3)
    err = capsys.readouterr().err
    assert "training" in err and "3/3" in err


def test_predict_builds_no_graph_and_bad_arguments():
    mlp = MLP(2, [3, 1], seed=0)
    assert train.predict(mlp, [[0.0, 1.0]]) == [[mlp([0.0, 1.0])[0].data]]
    with pytest.raises(ValueError, match="3 inputs but 2 targets"):
        train.fit(mlp, [[0, 0]] * 3, [0, 1], progress=False)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        train.fit(mlp, [[0, 0]], [0], batch_size=0, progress=False)
    with pytest.raises(ValueError, match="mse is a regression loss"):
        train.accuracy(mlp, [[0, 0]], [0.0], losses.mse)


@pytest.mark.parametrize(("X", "error", "message"), [
    ([[0.0, 1.0], 0.5], TypeError, r"fit: X\[1\] expects a sequence of 2 inputs .*got float"),
    ([[0.0, 1.0], [0.0]], ValueError, r"fit: X\[1\] expects 2 inputs, got 1"),
    ([[0.0, "a"], [0.0, 1.0]], TypeError, r"fit: X\[0\] input 1 must be a real number")])
def test_fit_names_the_bad_input_row(X, error, message):
    mlp = MLP(2, [3, 1], seed=0)
    with pytest.raises(error, match=message):
        train.fit(mlp, X, [0.0, 1.0], progress=False)


def test_loss_is_the_fourth_argument_everywhere_positional_or_keyword_default_mse():
    import inspect

    from nn import closed_form
    for f in (train.fit, train.accuracy, closed_form.backprop, closed_form.compare):
        p = list(inspect.signature(f).parameters.values())[3]
        assert (p.name, p.kind, p.default) == ("loss", p.POSITIONAL_OR_KEYWORD, losses.mse), f
    X, y = [[0.0, 1.0], [1.0, 0.0]], [0, 1]
    a, b = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=0)
    ha = train.fit(a, X, y, losses.bce_with_logits, epochs=3, progress=False, seed=0)
    hb = train.fit(b, X, y, loss=losses.bce_with_logits, epochs=3, progress=False, seed=0)
    assert ha.loss == hb.loss
    assert train.accuracy(a, X, y, losses.bce_with_logits) == train.accuracy(
        a, X, y, loss=losses.bce_with_logits)
    with pytest.raises(ValueError, match="mse is a regression loss"):
        train.accuracy(a, X, y)


def test_mlp_save_and_load_take_a_path(tmp_path):
    import inspect

    mlp = MLP(2, [3, 1], seed=0)
    mlp.save(tmp_path / "m.json")
    assert MLP.load(tmp_path / "m.json").to_dict() == mlp.to_dict()
    for f in (MLP.save, MLP.load):
        assert "os.PathLike" in str(inspect.signature(f).parameters["path"].annotation)


# -- Ctrl-C keeps what was trained ----------------------------------------------------------------


class InterruptedLoss(losses.BinaryCrossEntropyWithLogits):
    """bce_with_logits that raises KeyboardInterrupt (as Ctrl-C does) on its ``at``-th call."""

    def __init__(self, at):
        super().__init__()
        self.calls, self.at = 0, at

    def __call__(self, outputs, targets):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return super().__call__(outputs, targets)


def trained_for(epochs, X, y):
    """A model and History after ``epochs`` whole epochs (2 steps each), the reference run."""
    mlp = MLP(2, [4, 1], seed=0)
    history = train.fit(mlp, X, y, losses.bce_with_logits, epochs=epochs, batch_size=4, seed=0,
                        optimizer=optim.Adam(mlp.parameters(), lr=0.05), progress=False)
    return mlp, history


def test_ctrl_c_in_a_forward_pass_keeps_the_finished_epochs_and_clears_the_grads():
    X, y = data.xor(8, seed=0)
    reference, reference_history = trained_for(2, X, y)
    mlp = MLP(2, [4, 1], seed=0)
    with pytest.raises(KeyboardInterrupt) as caught:  # epoch 3's first forward pass
        train.fit(mlp, X, y, InterruptedLoss(at=5), epochs=10, batch_size=4, seed=0,
                  optimizer=optim.Adam(mlp.parameters(), lr=0.05), progress=False)
    assert caught.value.history == reference_history and len(reference_history.loss) == 2
    assert [p.data for p in mlp.parameters()] == [p.data for p in reference.parameters()]
    assert all(p.grad == 0.0 for p in mlp.parameters())


@pytest.mark.parametrize("line", [3, 8, 15])
def test_ctrl_c_in_an_optimizer_step_finishes_the_step(line):
    X, y = data.xor(8, seed=0)
    reference, _ = trained_for(2, X, y)  # 4 whole steps
    mlp = MLP(2, [4, 1], seed=0)
    optimizer = optim.Adam(mlp.parameters(), lr=0.05)
    with (ctrl_c_at(optim.Optimizer.step.__code__, line, call=4),
          pytest.raises(KeyboardInterrupt) as caught):
        train.fit(mlp, X, y, losses.bce_with_logits, epochs=10, batch_size=4, seed=0,
                  optimizer=optimizer, progress=False)
    assert [p.data for p in mlp.parameters()] == [p.data for p in reference.parameters()]
    assert len(caught.value.history.loss) == 1 and optimizer.t == 4
    assert all(p.grad == 0.0 for p in mlp.parameters())


# -- arguments that used to train nothing or measure nothing -------------------------------------


def test_an_optimizer_built_for_another_model_is_refused():
    X, y = data.xor(8, seed=0)
    mlp, other = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="none of the optimizer's 13 parameters is this model's"):
        train.fit(mlp, X, y, losses.bce_with_logits, optimizer=optim.SGD(other.parameters()),
                  progress=False)
    mixed = mlp.parameters()[:4] + other.parameters()[:2]
    with pytest.raises(ValueError, match=r"2 of the optimizer's 6 parameters .* are not"):
        train.fit(mlp, X, y, losses.bce_with_logits, optimizer=optim.SGD(mixed), progress=False)


def test_an_optimizer_of_some_of_the_models_parameters_trains_those_only():
    X, y = data.xor(8, seed=0)
    mlp = MLP(2, [3, 1], seed=0)
    first = [p.data for p in mlp.layers[0].parameters()]
    history = train.fit(mlp, X, y, losses.bce_with_logits, epochs=20, progress=False,
                        optimizer=optim.SGD(mlp.layers[1].parameters(), lr=0.5))
    assert [p.data for p in mlp.layers[0].parameters()] == first  # frozen
    assert history.loss[-1] < history.loss[0]


@pytest.mark.parametrize(("loss", "labels", "message"), [
    (losses.bce_with_logits, [-1, 1, 1, -1], r"accuracy: y\[0\]: bce_with_logits: a target"),
    (losses.bce_with_logits, ["no", "yes", "yes", "no"], r"y\[0\]: bce_with_logits"),
    (losses.bce_with_logits, [0, 0.7, 1, 0], "needs labels 0 or 1, got 0.7"),
    (losses.hinge, [0, 1, 1, 0], r"y\[0\]: hinge: labels must be -1 or \+1"),
    (losses.softmax_cross_entropy, [0, 1, 2, 0], "softmax_cross_entropy needs an MLP with at")])
def test_accuracy_refuses_the_labels_fit_refuses(loss, labels, message):
    X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    perfect = MLP(2, [1], seed=0)  # x1 - x0 - 0.5 > 0 exactly for the samples labelled 1
    perfect.layers[0].neurons[0].w[0].data, perfect.layers[0].neurons[0].w[1].data = -1.0, 1.0
    perfect.layers[0].neurons[0].b.data = -0.5
    with pytest.raises(ValueError, match=message):
        train.accuracy(perfect, X, labels, loss)
    if loss is not losses.softmax_cross_entropy and "0.7" not in message:
        with pytest.raises(ValueError, match=r"fit: y\[0\]"):
            train.fit(perfect, X, labels, loss, progress=False)
    assert train.accuracy(perfect, X, [0, 1, 0, 0], losses.bce_with_logits) == 1.0
    assert train.accuracy(perfect, X, [-1, 1, -1, -1], losses.hinge) == 1.0


def test_the_progress_bar_does_not_flood_a_log(capsys, monkeypatch):
    import tqdm.std

    clock = iter(range(0, 10**6))  # every reading of tqdm's clock is a second later
    monkeypatch.setattr(tqdm.std, "time", lambda: float(next(clock)))
    X, y = data.xor(8, seed=0)
    train.fit(MLP(2, [2, 1], seed=0), X, y, loss=losses.bce_with_logits, epochs=60)
    err = capsys.readouterr().err  # captured: not a terminal, as a log file or CI
    drawn = err.count("training:")
    assert "60/60" in err and 2 <= drawn <= 20, err  # once a refresh per epoch: over 120


def test_one_sample_given_where_a_list_of_samples_goes_is_named():
    mlp = MLP(2, [1], seed=0)
    calls = [lambda X: train.predict(mlp, X), lambda X: train.fit(mlp, X, [0, 1], progress=False),
             lambda X: train.accuracy(mlp, X, [0, 1], losses.bce_with_logits)]
    for who, call in zip(("predict", "fit", "accuracy"), calls, strict=True):
        with pytest.raises(TypeError, match=rf"^{who}: X must be a list of samples .* \[0\.1, "
                                            r"0\.2\] looks like one sample: write \[x\]"):
            call([0.1, 0.2])
    assert train.predict(mlp, [[0.1, 0.2]]) == [[mlp([0.1, 0.2])[0].data]]
