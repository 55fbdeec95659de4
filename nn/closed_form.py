"""The lecture notes' backpropagation in matrix form (NumPy), on an MLP's current weights.

For a batch whose samples are the columns of ``A_0 = X^T``::

    forward    Z_l = W_l A_{l-1} + b_l          A_l = s_l(Z_l)                 l = 1 .. L
    backward   Delta_L = dC/dA_L * s_L'(Z_L)    Delta_l = (W_{l+1}^T Delta_{l+1}) * s_l'(Z_l)
    gradients  dC/dW_l = Delta_l A_{l-1}^T       dC/db_l = Delta_l summed over the samples

Column ``i`` of ``Delta_l`` is the ``delta`` of sample ``i``: the engine's ``z.grad`` for that
sample's ``z`` (both include the loss's ``1/N`` for a mean). ``dC/dW_l`` sums the per-sample
``delta a^T`` over the batch, as the lecture notes' cost sums (or averages) the samples' costs.

:func:`backprop` computes all of it, :func:`compare` runs the engine on the same MLP, input and
loss and reports the largest differences per layer, and :class:`MatrixTrainer` trains the
weights in this form (for models that outgrow the scalar engine), reading them from the MLP's
Values and writing them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from engine import Value
from nn.checks import hyperparameter
from nn.losses import L2Penalty, Loss, mse, sigmoid_np
from nn.mlp import LEAKY_SLOPE, MLP

__all__ = ["ACTIVATIONS_NP", "Backprop", "LayerDifference", "MatrixTrainer", "backprop",
           "compare", "read_weights", "write_weights"]



ACTIVATIONS_NP: dict[str, tuple[Any, Any]] = {
    # name: (s(z), s'(z) from z and a = s(z)); the kinks take the engine's subgradients
    "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
    "sigmoid": (sigmoid_np, lambda z, a: a * (1.0 - a)),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(float)),
    "leaky_relu": (lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
                   lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE)),
    "linear": (None, None),  # a = z, s' = 1
}
"""Each named activation in NumPy: the function and its derivative."""


class Backprop(NamedTuple):
    """Everything the matrix form computes for one batch; lists are indexed by layer (0-based).

    ``a[0]`` is ``X^T`` and ``a[k + 1]`` the activations of layer ``k``; ``z[k]`` and
    ``delta[k]`` are layer ``k``'s; every array has one column per sample.
    """

    loss: float
    z: list[np.ndarray]
    a: list[np.ndarray]
    delta: list[np.ndarray]
    dW: list[np.ndarray]
    db: list[np.ndarray]


class LayerDifference(NamedTuple):
    """Largest absolute differences, engine vs closed form, in one layer."""

    layer: int
    dW: float  # weight gradients
    db: float  # bias gradients
    delta: float  # the closed form's delta vs the engine's z.grad, over all samples

    def __str__(self) -> str:
        return (f"layer {self.layer}: max |dW diff| {self.dW:.3g}, max |db diff| {self.db:.3g}, "
                f"max |delta - z.grad| {self.delta:.3g}")


def read_weights(mlp: MLP) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(Ws, bs)``: ``Ws[k][j, i]`` is ``mlp.layers[k].neurons[j].w[i].data``."""
    Ws = [np.array([[w.data for w in n.w] for n in layer.neurons]) for layer in mlp.layers]
    bs = [np.array([n.b.data for n in layer.neurons]) for layer in mlp.layers]
    return Ws, bs


def write_weights(mlp: MLP, Ws: Sequence[np.ndarray], bs: Sequence[np.ndarray]) -> None:
    """Store ``Ws`` and ``bs`` (as ``read_weights`` gives them, or nested lists) into the MLP."""
    if len(Ws) != len(mlp.layers) or len(bs) != len(mlp.layers):
        raise ValueError(f"the MLP has {len(mlp.layers)} layers, got {len(Ws)} weight matrices "
                         f"and {len(bs)} bias vectors")
    for k, (layer, W, b) in enumerate(zip(mlp.layers, Ws, bs, strict=True)):
        try:  # nested lists work too
            W, b = np.asarray(W, dtype=float), np.asarray(b, dtype=float)
        except (TypeError, ValueError) as e:
            raise ValueError(f"layer {k}: W and b must be arrays of numbers ({e})") from None
        if np.shape(W) != (layer.nout, layer.nin) or np.shape(b) != (layer.nout,):
            raise ValueError(f"layer {k} needs W of shape {(layer.nout, layer.nin)} and b of "
                             f"shape {(layer.nout,)}, got {np.shape(W)} and {np.shape(b)}")
        for n, row, bias in zip(layer.neurons, W.tolist(), b.tolist(), strict=True):
            for w, x in zip(n.w, row, strict=True):
                w.data = x
            n.b.data = bias


def activations_of(mlp: MLP) -> list[str]:
    """Each layer's activation name; ``ValueError`` for a custom (callable) activation."""
    names = []
    for k, layer in enumerate(mlp.layers):
        act = layer.activation
        if not isinstance(act, str) or act not in ACTIVATIONS_NP:
            raise ValueError(f"layer {k} uses the custom activation {layer.activation_name!r}; "
                             f"the closed form knows {', '.join(ACTIVATIONS_NP)}")
        if any(n.activation != act for n in layer.neurons):
            raise ValueError(f"the neurons of layer {k} have different activations")
        names.append(act)
    return names


def backprop(mlp: MLP, X: Any, targets: Sequence[Any], loss: Loss = mse,
             penalty: L2Penalty | None = None) -> Backprop:
    """The matrix-form forward and backward pass for the batch ``X`` (rows are samples)."""
    Ws, bs = read_weights(mlp)
    X = _inputs(X, mlp.nin)
    Y = loss.targets_matrix(targets, mlp.layers[-1].nout)
    if len(Y) != len(X):
        raise ValueError(f"{len(X)} inputs but {len(Y)} targets")
    return _backprop(Ws, bs, [ACTIVATIONS_NP[a] for a in activations_of(mlp)], X, Y, loss,
                     penalty.alpha if penalty else 0.0)


def _backprop(Ws, bs, acts, X, Y, loss, alpha) -> Backprop:
    a = [X.T]
    z = []
    for W, b, (s, _) in zip(Ws, bs, acts, strict=True):
        z.append(W @ a[-1] + b[:, None])
        a.append(z[-1] if s is None else s(z[-1]))
    value = loss.value_np(a[-1], Y)
    L = len(Ws)
    delta: list[np.ndarray] = [None] * L  # type: ignore[list-item]
    g = loss.grad_output(a[-1], Y)  # dC/da_L
    for k in range(L - 1, -1, -1):
        ds = acts[k][1]
        delta[k] = g if ds is None else g * ds(z[k], a[k + 1])
        g = Ws[k].T @ delta[k]  # dC/da of the layer below
    dW = [d @ a_prev.T for d, a_prev in zip(delta, a, strict=False)]
    db = [d.sum(axis=1) for d in delta]
    if alpha:
        value += alpha * sum(float((W * W).sum() + (b * b).sum()) for W, b in zip(Ws, bs,
                                                                                  strict=True))
        dW = [g + 2.0 * alpha * W for g, W in zip(dW, Ws, strict=True)]
        db = [g + 2.0 * alpha * b for g, b in zip(db, bs, strict=True)]
    return Backprop(value, z, a, delta, dW, db)


def compare(mlp: MLP, X: Any, targets: Sequence[Any], loss: Loss = mse,
            penalty: L2Penalty | None = None) -> list[LayerDifference]:
    """Run the engine and the closed form on the same MLP, batch and loss; compare per layer.

    The engine side traces every sample (``mlp.trace``), builds the loss and calls
    ``backward()``; the MLP's gradients are zeroed first and hold the engine's afterwards.
    """
    closed = backprop(mlp, X, targets, loss, penalty)
    rows = _inputs(X, mlp.nin).tolist()
    mlp.zero_grad()
    traces = [mlp.trace(x) for x in rows]
    C = loss([t[-1].a for t in traces], targets)
    if penalty is not None:
        C = C + penalty(mlp.parameters())
    C.backward()
    differences = []
    for k, layer in enumerate(mlp.layers):
        dW = np.array([[w.grad for w in n.w] for n in layer.neurons])
        db = np.array([n.b.grad for n in layer.neurons])
        z_grad = np.array([[z.grad for z in t[k].z] for t in traces]).T
        differences.append(LayerDifference(k, _max_abs(dW - closed.dW[k]),
                                           _max_abs(db - closed.db[k]),
                                           _max_abs(z_grad - closed.delta[k])))
    return differences


class MatrixTrainer:
    """Train an MLP's weights in matrix form: forward, delta backward, SGD update, with NumPy.

    The weights are read from the MLP's Values when the trainer is made (``read()`` again after
    changing them) and written back by ``write()``. The update is :class:`nn.optim.SGD`'s, so
    K full-batch steps here and K steps of the scalar engine give the same weights (to rounding):
    ``g = dC/dW + weight_decay W``, ``v = momentum v + g``, ``W -= lr v``.
    """

    def __init__(self, mlp: MLP, loss: Loss = mse, lr: float = 0.05, momentum: float = 0.0,
                 weight_decay: float = 0.0, penalty: L2Penalty | None = None) -> None:
        self.mlp, self.loss = mlp, loss
        self.lr, self.momentum = hyperparameter(lr, "lr"), hyperparameter(momentum, "momentum")
        self.weight_decay = hyperparameter(weight_decay, "weight_decay")  # as optim.SGD does
        self.alpha = penalty.alpha if penalty else 0.0
        self._acts = [ACTIVATIONS_NP[a] for a in activations_of(mlp)]
        self.read()

    def read(self) -> None:
        """Take the weights from the MLP's Values (and restart the momentum)."""
        self.Ws, self.bs = read_weights(self.mlp)
        self._velocity: list[np.ndarray] | None = None

    def write(self) -> None:
        """Store the trained weights into the MLP's Values."""
        write_weights(self.mlp, self.Ws, self.bs)

    def targets(self, targets: Sequence[Any]) -> np.ndarray:
        """The targets as the array ``step`` reads (convert once, step many times)."""
        return self.loss.targets_matrix(targets, len(self.bs[-1]))

    def step(self, X: Any, Y: Any) -> float:
        """One step on the batch ``X`` (rows are samples); returns the loss before the update.

        ``Y`` is a list of targets, or the array ``targets()`` made of them (faster): an array
        must have that shape, ``(len(X), nout)``; an array of labels is refused, not broadcast.
        """
        nin, nout = self.Ws[0].shape[1], self.bs[-1].shape[0]
        if type(X) is not np.ndarray or X.ndim != 2 or X.shape[1] != nin or not len(X):
            X = _inputs(X, nin)  # converts, or raises naming the shape
        if type(Y) is not np.ndarray:
            Y = self.targets(Y)
            if len(Y) != len(X):
                raise ValueError(f"{len(X)} inputs but {len(Y)} targets")
        elif Y.shape != (len(X), nout):  # e.g. an array of labels instead of targets() of them
            raise ValueError(f"Y must be the targets matrix of shape {(len(X), nout)} (as "
                             f"targets() makes it) for X of shape {X.shape}, got shape {Y.shape}")
        r = _backprop(self.Ws, self.bs, self._acts, X, Y, self.loss, self.alpha)
        grads = [*r.dW, *r.db]
        params = [*self.Ws, *self.bs]
        if self.weight_decay:
            grads = [g + self.weight_decay * p for g, p in zip(grads, params, strict=True)]
        if self.momentum:
            if self._velocity is None:
                self._velocity = grads
            else:
                self._velocity = [self.momentum * v + g
                                  for v, g in zip(self._velocity, grads, strict=True)]
            grads = self._velocity
        for p, g in zip(params, grads, strict=True):
            p -= self.lr * g  # in place: self.Ws and self.bs hold these arrays
        return r.loss


def _inputs(X: Any, nin: int) -> np.ndarray:
    if isinstance(X, Value) or (isinstance(X, Sequence) and X and isinstance(X[0], Value)):
        raise TypeError("the closed form reads numbers, not Values")
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != nin or len(X) == 0:
        raise ValueError(f"inputs must be a non-empty batch of shape (N, {nin}), got shape "
                         f"{X.shape}")
    return X


def _max_abs(d: np.ndarray) -> float:
    return float(np.max(np.abs(d))) if d.size else 0.0
