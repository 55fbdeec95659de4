"""A small training loop: epochs, shuffled mini-batches, a progress bar, a history.

>>> from nn import MLP, data, losses, optim, train
>>> X, y = data.moons(100, noise=0.1, seed=0)
>>> mlp = MLP(2, [16, 16, 1], seed=0)
>>> history = train.fit(mlp, X, y, loss=losses.bce_with_logits, epochs=50, progress=False,
...                     optimizer=optim.Adam(mlp.parameters(), lr=0.05))
>>> history.accuracy[-1] > 0.9
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from engine import Value, no_grad
from nn.checks import int_at_least, lift
from nn.losses import L2Penalty, Loss, mse
from nn.mlp import MLP
from nn.optim import SGD, Optimizer
from nn.seeding import Seed, as_random

__all__ = ["History", "accuracy", "fit", "predict"]


class History(NamedTuple):
    """Per epoch: the loss, and the accuracy (``None`` entries for a regression loss).

    Both come from the epoch's own forward passes (each mini-batch before its update), so they
    cost nothing extra; :func:`accuracy` measures a model after training.
    """

    loss: list[float]
    accuracy: list[float | None]


def fit(model: MLP, X: Sequence[Sequence[float]], y: Sequence[Any], loss: Loss = mse, *,
        optimizer: Optimizer | None = None, epochs: int = 100, batch_size: int | None = None,
        shuffle: bool = True, seed: Seed = None, penalty: L2Penalty | None = None,
        progress: bool = True) -> History:
    """Train ``model`` on ``(X, y)`` and return the :class:`History`.

    Each epoch visits the samples in mini-batches of ``batch_size`` (all of them by default),
    in an order shuffled by ``seed`` (an int, a ``random.Random`` or None); each batch runs
    forward, ``loss`` (plus ``penalty`` of the parameters), ``backward()`` and
    ``optimizer.step()`` (default: ``SGD(lr=0.05)``). ``progress=False`` hides the tqdm bar.
    """
    if len(X) != len(y):
        raise ValueError(f"{len(X)} inputs but {len(y)} targets")
    if not len(X):
        raise ValueError("fit needs at least one sample")
    epochs = int_at_least(epochs, "epochs", 0)
    n = len(X)
    batch_size = n if batch_size is None else int_at_least(batch_size, "batch_size", 1)
    optimizer = SGD(model.parameters(), lr=0.05) if optimizer is None else optimizer
    rng = as_random(seed)
    inputs = [lift(row, model.nin, f"fit: X[{i}]") for i, row in enumerate(X)]  # made once
    targets = list(y)
    parameters = model.parameters()
    is_mean = loss.reduction == "mean"
    history = History([], [])
    order = list(range(n))
    bar = _progress(epochs, progress)
    try:
        for _ in range(epochs):
            if shuffle:
                rng.shuffle(order)
            total = 0.0
            correct: int | None = 0
            for start in range(0, n, batch_size):
                batch = order[start:start + batch_size]
                outputs = [model(inputs[i]) for i in batch]
                batch_targets = [targets[i] for i in batch]
                objective = loss(outputs, batch_targets)
                if penalty is not None:
                    objective = objective + penalty(parameters)
                optimizer.zero_grad()
                objective.backward()
                optimizer.step()
                total += objective.data * (len(batch) if is_mean else 1)
                hits = _count_correct(loss, outputs, batch_targets)
                correct = None if hits is None or correct is None else correct + hits
            history.loss.append(total / n if is_mean else total)
            history.accuracy.append(None if correct is None else correct / n)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{history.loss[-1]:.4g}", acc=history.accuracy[-1])
    finally:
        if bar is not None:
            bar.close()
    return history


def predict(model: MLP, X: Sequence[Sequence[float]]) -> list[list[float]]:
    """The model's outputs (floats) for every input, recording no graph."""
    with no_grad():
        return [[a.data for a in model(x)] for x in X]


def accuracy(model: MLP, X: Sequence[Sequence[float]], y: Sequence[Any],
             loss: Loss = mse) -> float:
    """The fraction of samples whose prediction (``loss.predict``) equals the label.

    ``loss`` is the one the model was trained with (a classification loss: ``mse``, the default
    everywhere, predicts no labels), as in ``fit`` and ``closed_form.backprop``.
    """
    if len(X) != len(y) or not len(X):
        raise ValueError(f"accuracy needs as many labels as inputs (and some), got {len(X)} "
                         f"inputs and {len(y)} labels")
    outputs = predict(model, X)
    if loss.predict(outputs[0]) is None:
        raise ValueError(f"{loss.name} is a regression loss: it predicts no labels")
    return sum(loss.predict(out) == label for out, label in zip(outputs, y, strict=True)) / len(X)


def _count_correct(loss: Loss, outputs: list[list[Value]], targets: list[Any]) -> Any:
    hits = 0
    for out, label in zip(outputs, targets, strict=True):
        guess = loss.predict([a.data for a in out])
        if guess is None:
            return None
        hits += guess == label
    return hits


def _progress(epochs: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm  # imported only when a bar is shown
    return tqdm(total=epochs, desc="training", unit="epoch")

