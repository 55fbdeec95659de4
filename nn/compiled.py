"""An MLP and its loss as ``engine.compile`` programs: training and predictions on whole batches.

``mlp.compile(loss)`` traces one sample's cost, ``loss.sample(mlp(x), row)``, once: the graph is
the same for every sample (the target enters as its row of numbers, see :mod:`nn.losses`), so
the program it gives holds for all of them, and runs a batch as matrix products. ``fit(...,
compiled=True)`` trains with it (:class:`ArrayTraining`): the batches, the mean's ``1/N``, the
penalty and the optimizer's rule are the interpreted ``fit``'s, while the parameters live in one
array; they are written back into the Values when ``fit`` returns or stops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import engine
from engine import Value
from engine.compiler import Compiled
from nn.checks import lift
from nn.draw import graph_names
from nn.interrupts import interrupts_deferred
from nn.losses import L2Penalty, Loss
from nn.mlp import MLP
from nn.optim import Optimizer

__all__ = ["ArrayTraining", "compile_loss", "compile_outputs", "inputs_array"]


def compile_loss(model: MLP, loss: Loss, named: bool = True,
                 with_outputs: bool = False) -> Compiled:
    """The program of one sample's cost: inputs ``x`` (``nin`` numbers) and ``row``, the
    target as ``loss.row(label, nout)`` gives it; parameters ``model.parameters()``. Its
    variables have the lecture's names (``W1[2,1]``, ``z1[2]``) unless ``named=False``
    (faster: ``fit`` reads no source). ``with_outputs``: the network's outputs come back
    beside the cost (``has_aux``), for the accuracy ``fit`` counts."""
    if not isinstance(loss, Loss):
        raise TypeError(f"compile needs an nn.losses loss such as losses.mse, not "
                        f"{type(loss).__name__} {loss!r:.40}")
    nout = model.layers[-1].nout

    def cost(x: list[Value], row: list[Value]) -> Value | tuple[Value, list[Value]]:
        output = model(x)
        return (loss.sample(output, row), output) if with_outputs else loss.sample(output, row)

    cost.__qualname__ = f"{loss.name} of {model!r}"
    try:
        return engine.compile(cost, [0.0] * model.nin, [0.0] * nout, params=model.parameters(),
                              names=(lambda out: graph_names(model, out)) if named else None,
                              has_aux=with_outputs)
    except (TypeError, ValueError, IndexError, KeyError) as error:
        if type(loss).sample is not Loss.sample and hasattr(error, "add_note"):  # 3.11+
            error.add_note(f"the compiled program traces {type(loss).__name__}.sample on a "
                           f"target row of Values (loss.row(label, {nout})), one graph for "
                           "every label; a sample that picks outputs by the label cannot be "
                           "traced: define cost(output, row) instead (see nn.losses)")
        raise


def compile_outputs(model: MLP, named: bool = True) -> Compiled:
    """The program of the network's outputs ``a_L`` for one input (a list of ``nout``)."""

    def outputs(x: list[Value]) -> list[Value]:
        return model(x)

    outputs.__qualname__ = f"outputs of {model!r}"
    return engine.compile(outputs, [0.0] * model.nin, params=model.parameters(),
                          names=(lambda out: graph_names(model, out)) if named else None)


def inputs_array(X: Sequence[Sequence[float]], nin: int, who: str) -> Any:
    """``X`` as a float array of shape ``(N, nin)``; for a row that is not ``nin`` numbers, the
    interpreted path's error, naming the row."""
    try:
        A = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        A = None
    if A is not None and A.ndim == 2 and A.shape[1] == nin:
        return A
    for i, row in enumerate(X):
        lift(row, nin, f"{who}: X[{i}]")  # raises the interpreted path's error for the row
        if any(type(v) is Value for v in row):
            raise TypeError(f"{who}: X[{i}] holds Values; the compiled program reads X as "
                            "numbers (pass their .data)")
    raise ValueError(f"{who}: X must be rows of {nin} numbers")


class ArrayTraining:
    """``fit``'s steps on the compiled program, with the parameters in an array ``theta`` (in
    the order of ``model.parameters()``) and the optimizer's state in arrays.

    ``step(start, stop, checked)`` does what one step of the interpreted ``fit`` does, on
    arrays: the batch's cost, its gradient (times ``loss.scale``, plus the penalty's) and the
    network's outputs before the update (for the accuracy), all from one run of the program,
    and the optimizer's rule; ``epoch(order)`` says which samples the coming steps read.
    ``write_back()`` puts ``theta`` into the Values and the state into the optimizer: ``fit``
    calls it whenever it returns or stops.
    """

    def __init__(self, model: MLP, X: Sequence[Sequence[float]], y: Sequence[Any], loss: Loss,
                 optimizer: Optimizer, penalty: L2Penalty | None) -> None:
        nout = model.layers[-1].nout
        self.loss, self.optimizer, self.penalty = loss, optimizer, penalty
        self.X = inputs_array(X, model.nin, "fit")
        classifies = loss.predict([0.0] * nout) is not None
        self.program = compile_loss(model, loss, named=False, with_outputs=classifies)
        self.Y = loss.targets_matrix(y, nout)
        self.labels = np.asarray(list(y)) if classifies else None
        self.parameters = self.program.params
        at = {id(p): k for k, p in enumerate(self.parameters)}
        index = [at[id(p)] for p in optimizer.parameters]
        self.index = None if index == list(range(len(at))) else np.array(index)
        self.now = (self.program.parameter_array(), optimizer.array_state())  # one attribute:
        # a step replaces both at once, so Ctrl-C cannot come between the two
        self.order = None

    @property
    def theta(self) -> Any:
        """The parameters' numbers, in the order of ``model.parameters()``."""
        return self.now[0]

    def epoch(self, order: Sequence[int] | None) -> None:
        """The order of the samples in the coming epoch's steps; None for their own order
        (the steps' samples are then slices of ``X``, views rather than copies)."""
        self.order = None if order is None else np.asarray(order)

    def step(self, start: int, stop: int, checked: bool) -> tuple[float, Any, str | None]:
        """One step on the samples at ``start:stop`` of the epoch's order: ``(objective, hits,
        problem)``. ``hits`` counts the samples whose outputs predict their label (None for a
        regression loss, nan for nan outputs). ``problem`` says what is not finite (checked):
        then nothing moved, and the parameters' grads hold this step's gradients."""
        theta, state = self.now
        rows = slice(start, stop) if self.order is None else self.order[start:stop]
        X, Y = self.X[rows], self.Y[rows]
        costs, G = self.program.gradients(X, Y, theta=theta)
        hits = None
        if self.labels is not None:
            costs, outputs = costs
            hits = self._hits(outputs.T, rows)
        scale = self.loss.scale(len(X))
        objective = float(costs.sum()) * scale
        if scale != 1.0:
            G *= scale
        if self.penalty is not None:
            objective += self.penalty.alpha * float(theta @ theta)
            G += (2.0 * self.penalty.alpha) * theta
        index = self.index
        with np.errstate(all="ignore"):  # IEEE results, as on floats; no warnings
            new, state = self.optimizer.array_updates(
                theta if index is None else theta[index], G if index is None else G[index],
                state)
            problem = self._problem(objective, G, new) if checked else None
        if problem is not None:
            for p, g in zip(self.parameters, G.tolist(), strict=True):
                p.grad = g
            return objective, hits, problem
        if index is not None:  # the optimizer's parameters move, the others stay
            whole = theta.copy()
            whole[index] = new
            new = whole
        self.now = (new, state)
        return objective, hits, None

    def _hits(self, A: Any, rows: Any) -> Any:
        """How many samples of ``rows`` whose outputs are the columns of ``A`` predict their
        label; nan if an output is not finite (it predicts no label), as the interpreted fit."""
        if not np.isfinite(A).all():
            return math.nan
        return int(np.count_nonzero(self.loss.predict_np(A) == self.labels[rows]))  # an int,
        # as the interpreted fit counts: the History holds floats, not np.float64

    def _problem(self, objective: float, G: Any, new: Any) -> str | None:
        """What is not finite, as the interpreted ``fit`` says it, or None."""
        if math.isfinite(objective) and math.isfinite(G @ G) and math.isfinite(new @ new):
            return None  # the usual case: a nan or inf would make a dot product nan or inf (a
            # huge finite number may too; then the checks below find nothing)
        if not math.isfinite(objective):
            return f"the loss is {objective}"
        bad = np.flatnonzero(~np.isfinite(G))
        if bad.size:
            return f"the gradient of parameter {bad[0]} is {G[bad[0]]}"
        bad = np.flatnonzero(~np.isfinite(new))
        if bad.size:  # the first in the model's order, which the optimizer's may not be
            at = bad if self.index is None else self.index[bad]
            first = at.argmin()
            return f"the step made parameter {at[first]} {new[bad[first]]}"
        return None

    def write_back(self) -> None:
        """The parameters' numbers into their Values, the state into the optimizer."""
        theta, state = self.now
        with interrupts_deferred():
            self.program.set_parameters(theta)
            self.optimizer.load_state(state)
