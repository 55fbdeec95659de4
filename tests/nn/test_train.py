"""nn.train: the moons reach 100 % training accuracy, history, batches, seeds, the progress bar."""

import pytest

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
