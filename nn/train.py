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

import math
import numbers
import sys
from collections.abc import Mapping, Sequence, Set
from typing import Any, Literal, NamedTuple

from engine import Value, no_grad
from nn.checks import int_at_least, lift
from nn.losses import LOSSES, BinaryCrossEntropyWithLogits, L2Penalty, Loss, mse
from nn.mlp import MLP
from nn.optim import SGD, Optimizer
from nn.seeding import Seed, as_random

__all__ = ["History", "NonFiniteError", "accuracy", "fit", "predict"]


class History(NamedTuple):
    """Per epoch: the loss, and the accuracy (``None`` entries for a regression loss).

    Both come from the epoch's own forward passes (each mini-batch before its update), so they
    cost nothing extra; :func:`accuracy` measures a model after training.
    """

    loss: list[float]
    accuracy: list[float | None]


class NonFiniteError(FloatingPointError):
    """``fit`` met a nan or inf loss, gradient or parameter; the model keeps its parameters from
    before that step."""


def fit(model: MLP, X: Sequence[Sequence[float]], y: Sequence[Any], loss: Loss = mse, *,
        optimizer: Optimizer | None = None, epochs: int = 100, batch_size: int | None = None,
        shuffle: bool = True, seed: Seed = None, penalty: L2Penalty | None = None,
        progress: bool = True,
        on_nonfinite: Literal["raise", "keep_going"] = "raise", compiled: bool = False) -> History:
    """Train ``model`` on ``(X, y)`` and return the :class:`History`.

    Each epoch visits the samples in mini-batches of ``batch_size`` (all of them by default),
    in an order shuffled by ``seed`` (an int, a ``random.Random`` or None); each batch runs
    forward, ``loss`` (plus ``penalty`` of the parameters), ``backward()`` and
    ``optimizer.step()`` (default: ``SGD(lr=0.05)``). ``progress=False`` hides the tqdm bar.

    A step whose loss or gradients hold a nan or inf, or that would make a parameter nan or
    inf, raises :class:`NonFiniteError` naming the epoch and step; the model keeps its last
    finite parameters (and that step's gradients, to look at). ``on_nonfinite="keep_going"``
    trains on regardless (the history then shows nan). After ``fit`` returns, every
    parameter's ``grad`` is 0.0: gradients of the last step are not left behind.

    Ctrl-C (KeyboardInterrupt) stops training and is raised again, as Python's convention is,
    but nothing is lost: every step is whole (see :mod:`nn.optim`), so the model keeps its
    parameters after the last whole step, its grads are set to 0.0, and the exception's
    ``history`` attribute holds the History of the epochs that finished
    (``except KeyboardInterrupt as stop: history = stop.history``; in Jupyter,
    ``sys.last_value.history``).

    ``compiled=True`` trains with the compiled program (``model.compile(loss)``, see
    :mod:`nn.compiled`): the same batches, losses and optimizer rule on NumPy arrays, the same
    weights to about 1e-15 after an epoch, many times faster; the parameters live in an array
    while it trains and are written back into the Values whenever ``fit`` returns or stops.
    """
    _check_fit_arguments(model, X, y, loss, optimizer, penalty, on_nonfinite)
    if len(X) != len(y):
        raise ValueError(f"{len(X)} inputs but {len(y)} targets")
    if not len(X):
        raise ValueError("fit needs at least one sample")
    _check_targets(loss, y, model, "fit")
    epochs = int_at_least(epochs, "epochs", 0)
    n = len(X)
    batch_size = n if batch_size is None else int_at_least(batch_size, "batch_size", 1)
    parameters = model.parameters()
    optimizer = SGD(parameters, lr=0.05) if optimizer is None else optimizer
    _check_optimizer_updates(optimizer, parameters)
    checked = on_nonfinite == "raise"
    rng = as_random(seed)
    arrays = None
    if compiled:
        from nn.compiled import ArrayTraining  # imports NumPy and the compiler
        arrays = ArrayTraining(model, X, y, loss, optimizer, penalty)
    else:
        inputs = [lift(row, model.nin, f"fit: X[{i}]") for i, row in enumerate(X)]  # made once
    targets = list(y)
    is_mean = loss.reduction == "mean"
    history = History([], [])
    order = list(range(n))
    bar = _progress(epochs, progress)
    try:
        for epoch in range(epochs):
            if shuffle:
                rng.shuffle(order)
            if arrays is not None:
                arrays.epoch(order if shuffle else None)
            total = 0.0
            correct: float | None = 0
            for start in range(0, n, batch_size):
                batch = order[start:start + batch_size]
                if arrays is not None:
                    value, hits, problem = arrays.step(start, start + batch_size, checked)
                    if problem is not None:
                        raise _nonfinite(_step_name(epoch, epochs, start, batch_size, n), problem)
                else:
                    outputs = [model(inputs[i]) for i in batch]
                    batch_targets = [targets[i] for i in batch]
                    objective = loss(outputs, batch_targets)
                    if penalty is not None:
                        objective = objective + penalty(parameters)
                    optimizer.zero_grad()
                    objective.backward()
                    if checked:
                        _step_checked(optimizer, objective, parameters,
                                      _step_name(epoch, epochs, start, batch_size, n))
                    else:
                        optimizer.step()
                    value = objective.data
                    hits = _count_correct(loss, outputs, batch_targets)
                total += value * (len(batch) if is_mean else 1)
                correct = None if hits is None or correct is None else correct + hits
            history.loss.append(total / n if is_mean else total)
            history.accuracy.append(None if correct is None else correct / n)
            if bar is not None:
                bar.set_postfix(loss=f"{history.loss[-1]:.4g}", acc=history.accuracy[-1],
                                refresh=False)  # update() redraws, at most every mininterval
                bar.update(1)
    except KeyboardInterrupt as stop:
        model.zero_grad()
        optimizer.zero_grad()
        stop.history = history  # type: ignore[attr-defined]
        if hasattr(stop, "add_note"):  # Python 3.11+
            stop.add_note(f"fit was interrupted in epoch {len(history.loss) + 1} of {epochs}: "
                          "the model keeps its parameters after the last whole step; this "
                          "exception's .history holds the finished epochs")
        raise
    finally:
        if arrays is not None:
            arrays.write_back()
        if bar is not None:
            bar.close()
    model.zero_grad()
    optimizer.zero_grad()
    return history


def _step_checked(optimizer: Optimizer, objective: Value, parameters: list[Value],
                  where: str) -> None:
    """``optimizer.step()``, unless the loss or a gradient is not finite, or the step would
    make a parameter so: then the parameters and the optimizer's state are put back and
    NonFiniteError raised."""
    problem = None
    if not math.isfinite(objective.data):
        problem = f"the loss is {objective.data}"
    else:
        bad = next((i for i, p in enumerate(parameters) if not math.isfinite(p.grad)), None)
        if bad is not None:
            problem = f"the gradient of parameter {bad} is {parameters[bad].grad}"
    if problem is None:
        before, state = [p.data for p in parameters], optimizer.array_state()
        optimizer.step()
        bad = next((i for i, p in enumerate(parameters) if not math.isfinite(p.data)), None)
        if bad is None:
            return
        problem = f"the step made parameter {bad} {parameters[bad].data}"
        for p, x in zip(parameters, before, strict=True):
            p.data = x
        optimizer.load_state(state)  # Adam's moments and step count too: the step never was
    raise _nonfinite(where, problem)


def _step_name(epoch: int, epochs: int, start: int, batch_size: int, n: int) -> str:
    """Where a step stands, for its error: ``epoch 2 of 10, step 3 of 5``."""
    return (f"epoch {epoch + 1} of {epochs}, step {start // batch_size + 1} of "
            f"{-(-n // batch_size)}")


def _nonfinite(where: str, problem: str) -> NonFiniteError:
    return NonFiniteError(
        f"fit stopped at {where}: {problem}. The model keeps its parameters from before this "
        "step. A nan in the data, or a learning rate too large for the loss, does this; "
        "engine.detect_anomaly() finds the first operation giving nan or inf "
        "(on_nonfinite='keep_going' trains on regardless)")


def _check_fit_arguments(model: Any, X: Any, y: Any, loss: Any, optimizer: Any, penalty: Any,
                         on_nonfinite: Any) -> None:
    """TypeError naming the argument of ``fit`` that is not of its kind."""
    _check_model(model, "fit")
    _check_samples(X, y, "fit")
    _check_loss(loss, "fit")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"fit: optimizer must be an nn.optim optimizer (SGD, Adam) or None, not "
                        f"{type(optimizer).__name__}: {optimizer!r:.40}")
    if penalty is not None and not isinstance(penalty, L2Penalty):
        raise TypeError(f"fit: penalty must be an nn.losses.L2Penalty or None, not "
                        f"{type(penalty).__name__} (write penalty=L2Penalty({penalty!r:.20}))")
    if on_nonfinite not in ("raise", "keep_going"):
        raise ValueError(f"fit: on_nonfinite must be 'raise' or 'keep_going', got "
                         f"{on_nonfinite!r:.40}")


def _check_optimizer_updates(optimizer: Optimizer, parameters: list[Value]) -> None:
    """Refuse an optimizer holding parameters that are not the model's (one built for another
    model would train nothing and report a flat loss); a subset of the model's is fine (the
    others stay frozen)."""
    mine = {id(p) for p in parameters}
    foreign = [i for i, p in enumerate(optimizer.parameters) if id(p) not in mine]
    if foreign:
        n = len(optimizer.parameters)
        which = (f"none of the optimizer's {n} parameters is" if len(foreign) == n else
                 f"{len(foreign)} of the optimizer's {n} parameters (first: its parameter "
                 f"{foreign[0]}) are not")
        raise ValueError(f"fit: {which} this model's: was the optimizer built for another "
                         "model? Build it from this one: optim.SGD(model.parameters(), lr=...)")


def _check_model(model: Any, who: str) -> None:
    if not isinstance(model, MLP):
        raise TypeError(f"{who}: the model must be an nn.MLP, not {type(model).__name__}")


def _check_targets(loss: Loss, y: Sequence[Any], model: MLP, who: str) -> None:
    """The loss's own check of each target (what ``loss(outputs, y)`` would refuse, named by
    its index), run before any work: fit and accuracy take the same labels."""
    nout = model.layers[-1].nout
    for i, target in enumerate(y):
        try:
            loss._check_target(target, nout)
        except ValueError as error:
            raise ValueError(f"{who}: y[{i}]: {error}") from None


def _check_samples(X: Any, y: Any, who: str) -> None:
    for name, xs in (("X", X), ("y", y)):
        if (y is None and name == "y") or _is_sequence(xs):
            continue
        raise TypeError(f"{who}: {name} must be a sequence (one entry per sample: a list, a "
                        f"tuple or an array), not {type(xs).__name__}: {xs!r:.40}")
    if len(X) and all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in X):
        raise TypeError(f"{who}: X must be a list of samples (each a list of numbers), and "
                        f"{X!r:.40} looks like one sample: write [x] for a batch of one")


def _is_sequence(xs: Any) -> bool:
    return (not isinstance(xs, str | bytes | Mapping | Set | Value) and hasattr(xs, "__len__")
            and hasattr(xs, "__getitem__"))


def _check_loss(loss: Any, who: str) -> None:
    if isinstance(loss, Loss):
        return
    hint = (f" (the loss named {loss!r} is nn.losses.{loss}, or nn.losses.LOSSES[{loss!r}])"
            if isinstance(loss, str) and loss in LOSSES else "")
    raise TypeError(f"{who}: loss must be an nn.losses loss such as losses.mse, not "
                    f"{type(loss).__name__} {loss!r:.40}{hint}")


def predict(model: MLP, X: Sequence[Sequence[float]], *,
            compiled: bool = False) -> list[list[float]]:
    """The model's outputs (floats) for every input, recording no graph; ``compiled=True``
    runs them as one batch through the compiled network (NumPy's exp and tanh may differ from
    the engine's in the last bit)."""
    _check_model(model, "predict")
    _check_samples(X, None, "predict")
    if compiled and len(X):
        from nn.compiled import compile_outputs, inputs_array
        outputs = compile_outputs(model, named=False)(inputs_array(X, model.nin, "predict"))
        return outputs.reshape(len(X), -1).tolist()
    with no_grad():
        return [[a.data for a in model(x)] for x in X]


def accuracy(model: MLP, X: Sequence[Sequence[float]], y: Sequence[Any],
             loss: Loss = mse, *, compiled: bool = False) -> float:
    """The fraction of samples whose prediction (``loss.predict``) equals the label.

    ``loss`` is the one the model was trained with (a classification loss: ``mse``, the default
    everywhere, predicts no labels), as in ``fit`` and ``closed_form.backprop``.
    ``compiled=True`` computes the outputs as :func:`predict` does with it.
    """
    _check_samples(X, y, "accuracy")
    _check_loss(loss, "accuracy")
    if len(X) != len(y) or not len(X):
        raise ValueError(f"accuracy needs as many labels as inputs (and some), got {len(X)} "
                         f"inputs and {len(y)} labels")
    _check_model(model, "accuracy")
    if loss.predict([0.0] * model.layers[-1].nout) is None:
        raise ValueError(f"{loss.name} is a regression loss: it predicts no labels")
    _check_targets(loss, y, model, "accuracy")
    if isinstance(loss, BinaryCrossEntropyWithLogits) and not all(t in (0, 1) for t in y):
        soft = next(t for t in y if t not in (0, 1))
        raise ValueError(f"accuracy: bce_with_logits predicts the labels 0 and 1, so accuracy "
                         f"needs labels 0 or 1, got {soft!r:.40} (a soft target)")
    outputs = predict(model, X, compiled=compiled)
    for i, out in enumerate(outputs):
        if not all(map(math.isfinite, out)):
            raise ValueError(f"accuracy: the model's output for sample {i} is {out!r:.60}: a "
                             "model with nan or inf outputs has no accuracy (its parameters "
                             "are probably nan: see fit's on_nonfinite)")
    return sum(loss.predict(out) == label for out, label in zip(outputs, y, strict=True)) / len(X)


def _count_correct(loss: Loss, outputs: list[list[Value]], targets: list[Any]) -> Any:
    hits = 0
    for out, label in zip(outputs, targets, strict=True):
        guess = loss.predict([a.data for a in out])
        if guess is None:
            return None
        if not all(math.isfinite(a.data) for a in out):
            return math.nan  # nan outputs predict no label: the epoch's accuracy is nan
        hits += guess == label
    return hits


LOG_INTERVAL = 30.0
"""Seconds between two refreshes of the progress bar when it writes to a log (not a terminal
and not Jupyter): a redrawn bar is a new line there, ten a second would flood it."""


def _progress(epochs: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm  # imported only when a bar is shown
    from tqdm.autonotebook import tqdm as chosen  # what tqdm.auto chose: a widget or text
    from tqdm.std import tqdm as text
    stream = sys.stderr
    to_log = chosen is text and not (hasattr(stream, "isatty") and stream.isatty())
    return tqdm(total=epochs, desc="training", unit="epoch", file=stream,
                mininterval=LOG_INTERVAL if to_log else 0.1)

