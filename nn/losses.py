"""Loss functions on engine Values, each with what the closed form needs.

A loss is called on a batch: ``loss(outputs, targets)``, where ``outputs[i]`` is what the MLP
returned for sample ``i`` (a list of Values, or one Value) and ``targets[i]`` its target. It
returns one Value: the mean over samples (``reduction="mean"``, the default) or their sum.

For the matrix form (:mod:`nn.closed_form`) each loss also gives, with NumPy, its value and
``dC/da_L`` for a batch whose outputs are the columns of ``A`` (``A[:, i]`` is ``a_L`` of sample
``i``): the start of the backward recursion, ``delta_L = dC/da_L * s_L'(z_L)``.

=========================  ===============================  =============  ==================
loss                       one sample's cost                target         dC/da_L (one sample)
=========================  ===============================  =============  ==================
``mse``                    ``sum_k (a_k - y_k)^2`` (notes)  numbers        ``2 (a - y)``
``hinge``                  ``max(0, 1 - y a)`` (micrograd)  -1 or +1       ``-y [1 - y a > 0]``
``bce_with_logits``        ``log(1 + e^a) - y a``           0 or 1         ``sigmoid(a) - y``
``softmax_cross_entropy``  ``log sum_k e^(a_k) - a_y``      class index    ``softmax(a) - e_y``
=========================  ===============================  =============  ==================

The last two take *logits* (use ``output_activation="linear"``) and are computed stably: a
log-sum-exp shifted by the largest logit, a ``max_shift`` node whose derivatives are 0 (the shift
cancels in the value, so it needs none), never overflows and has no kink.

Each loss's graph is the same for every sample, so that ``engine.compile`` can trace it once: a
target enters as numbers, :meth:`Loss.row` (a class label one-hot), which ``sample`` also takes
as Values, the traced program's inputs; and what belongs to the batch (the mean's ``1/N``,
:meth:`Loss.scale`, and ``L2Penalty``) stays out of ``sample``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence, Set
from typing import TYPE_CHECKING, Any

from engine import Value, apply

if TYPE_CHECKING:  # NumPy is imported only when a closed-form method runs
    import numpy as np

__all__ = ["L2Penalty", "Loss", "bce_with_logits", "hinge", "mse", "softmax_cross_entropy"]

Output = Sequence[Value] | Value


class Loss:
    """A loss: a per-sample cost (engine Values), its reduction, and its NumPy closed form."""

    name = "loss"

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    def __call__(self, outputs: Sequence[Output], targets: Sequence[Any]) -> Value:
        """The loss of a batch: the mean (or sum) of ``sample`` over the samples."""
        if isinstance(outputs, Value) or not isinstance(outputs, Sequence):
            raise TypeError(f"{self.name} expects a list of per-sample outputs, got "
                            f"{type(outputs).__name__}")
        if isinstance(targets, str | Mapping | Set) or not hasattr(targets, "__len__"):
            raise TypeError(f"{self.name} expects a list of per-sample targets (one per output "
                            f"of the batch), got {type(targets).__name__}: {targets!r:.40}")
        if len(outputs) != len(targets):
            raise ValueError(f"{self.name}: {len(outputs)} outputs but {len(targets)} targets")
        if not outputs:
            raise ValueError(f"{self.name} of an empty batch")
        total = _total([self.sample(self._output(out, i), y)
                        for i, (out, y) in enumerate(zip(outputs, targets, strict=True))])
        scale = self.scale(len(outputs))
        return total if scale == 1.0 else total * scale  # one sample: no "* 1" node

    def scale(self, n: int) -> float:
        """The factor of the sum of ``n`` samples' costs: ``1/n`` for the mean, 1 for the sum."""
        return 1.0 / n if self.reduction == "mean" and n > 1 else 1.0

    def sample(self, output: Sequence[Value], target: Any) -> Value:
        """The cost of one sample. ``target`` is a label, or its :meth:`row` as Values (the
        inputs of a traced program): the graph is then the same whatever the label."""
        return self.cost(output, self._target_row(target, len(output)))

    def cost(self, output: Sequence[Value], row: Sequence[Any]) -> Value:
        """The cost of one sample whose target is ``row`` (numbers or Values, see :meth:`row`)."""
        raise NotImplementedError

    def row(self, target: Any, nout: int) -> list[float]:
        """A target as the ``nout`` numbers the cost reads: the target itself, or its class
        one-hot. Checked: a ValueError names a target that is not of this loss's kind."""
        checked = self._check_target(target, nout)
        return list(checked) if isinstance(checked, list) else [float(checked)]

    def _target_row(self, target: Any, nout: int) -> Sequence[Any]:
        """``target`` as a row: as it is if it is Values (a Value for one output), else ``row``."""
        if type(target) is Value:
            target = [target]
        if (isinstance(target, Sequence) and not isinstance(target, str) and target
                and all(type(t) is Value for t in target)):
            if len(target) != nout:
                raise ValueError(f"{self.name}: a target of Values is the row of {nout} "
                                 f"number(s) that loss.row(label, {nout}) gives, got "
                                 f"{len(target)} Values")
            return target
        return self.row(target, nout)

    def _output(self, output: Output, i: int) -> Sequence[Value]:
        """Sample ``i``'s output as a non-empty list of Values; ``TypeError`` if it is not."""
        if type(output) is Value:
            return [output]
        if (isinstance(output, Sequence) and not isinstance(output, str) and output
                and all(isinstance(a, Value) for a in output)):
            return output
        raise TypeError(f"{self.name}: the output of sample {i} must be a Value or a non-empty "
                        f"list of Values (what the model returned, not floats), got "
                        f"{type(output).__name__}: {output!r:.60}")

    def predict(self, output: Sequence[float]) -> Any:
        """The label the outputs (floats) stand for, or ``None`` for a regression loss."""
        return None

    # -- the closed form (NumPy; columns are samples) ---------------------------------------------
    def targets_matrix(self, targets: Sequence[Any], nout: int) -> np.ndarray:
        """The targets as the float array of shape ``(N, nout)`` the NumPy methods read."""
        import numpy as np
        rows = [self.row(y, nout) for y in targets]
        return np.array(rows, dtype=float).reshape(len(rows), nout)

    def predict_np(self, A: np.ndarray) -> np.ndarray | None:
        """``predict`` of each column of ``A`` (a sample's outputs), as an array; None for a
        regression loss."""
        import numpy as np
        labels = [self.predict(column) for column in A.T.tolist()]
        return None if labels and labels[0] is None else np.array(labels)

    def value_np(self, A: np.ndarray, Y: np.ndarray) -> float:
        """The loss of the batch whose outputs are the columns of ``A``."""
        per_sample = self._costs_np(A, Y)
        return float(per_sample.mean() if self.reduction == "mean" else per_sample.sum())

    def grad_output(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """``dC/da_L`` for every sample (same shape as ``A``), reduction included."""
        g = self._grad_np(A, Y)
        return g / A.shape[1] if self.reduction == "mean" else g

    def _costs_np(self, A, Y):
        raise NotImplementedError

    def _grad_np(self, A, Y):
        raise NotImplementedError

    def _check_target(self, y: Any, nout: int) -> Any:
        return y

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class MeanSquaredError(Loss):
    """``sum_k (a_k - y_k)^2`` per sample, averaged over samples: the lecture notes' cost.

    (PyTorch's ``MSELoss`` also divides by the number of outputs; for one output they agree.)
    A target is a number (one output) or a sequence of ``nout`` numbers.
    """

    name = "mse"

    def cost(self, output: Sequence[Value], row: Sequence[Any]) -> Value:
        """``sum_k (a_k - y_k)^2`` for one sample."""
        return _total([_square(a - y) for a, y in zip(output, row, strict=True)])

    def _check_target(self, y: Any, nout: int) -> list[float]:
        if isinstance(y, numbers.Real):
            ys = [y]
        elif isinstance(y, Iterable) and not isinstance(y, str | Mapping | Set):
            ys = list(y)
        else:
            ys = []  # refused below
        if (len(ys) != nout or not all(isinstance(v, numbers.Real) for v in ys)
                or not all(map(_finite, ys))):
            raise ValueError(f"mse: a target must be {nout} number(s) (finite, one per output), "
                             f"got {y!r:.60}")
        return [float(v) for v in ys]

    def _costs_np(self, A, Y):
        return ((A - Y.T) ** 2).sum(axis=0)

    def _grad_np(self, A, Y):
        return 2.0 * (A - Y.T)


class Hinge(Loss):
    """``max(0, 1 - y a)`` per sample for one output and labels ``y = -1 or +1`` (max-margin)."""

    name = "hinge"

    def cost(self, output: Sequence[Value], row: Sequence[Any]) -> Value:
        """``max(0, 1 - y a)`` for one sample."""
        return (1.0 - row[0] * output[0]).relu()

    def predict(self, output: Sequence[float]) -> float:
        """``+1.0`` for a positive score, else ``-1.0``."""
        return 1.0 if output[0] > 0 else -1.0

    def predict_np(self, A: np.ndarray) -> np.ndarray:
        """``predict`` of each column of ``A``."""
        import numpy as np
        return np.where(A[0] > 0, 1.0, -1.0)

    def _check_target(self, y: Any, nout: int) -> float:
        _one_output(self.name, nout)
        if y not in (-1, 1) or isinstance(y, bool):
            raise ValueError(f"hinge: labels must be -1 or +1, got {y!r} (Dataset.signed() "
                             "converts 0/1 labels)")
        return float(y)

    def _costs_np(self, A, Y):
        import numpy as np
        return np.maximum(1.0 - Y.T * A, 0.0)[0]

    def _grad_np(self, A, Y):
        return -Y.T * (1.0 - Y.T * A > 0)


class BinaryCrossEntropyWithLogits(Loss):
    """``-[y log s(a) + (1 - y) log(1 - s(a))]`` for one output, the logit ``a``, ``0 <= y <= 1``.

    Computed as ``log(e^0 + e^a) - y a`` with the log-sum-exp shifted by ``max(a, 0)``.
    """

    name = "bce_with_logits"

    def cost(self, output: Sequence[Value], row: Sequence[Any]) -> Value:
        """``log(1 + e^a) - y a`` for one sample, computed stably."""
        a = output[0]
        return _log_sum_exp([Value(0.0), a]) - row[0] * a

    def predict(self, output: Sequence[float]) -> int:
        """Class 1 for a positive logit, else 0."""
        return 1 if output[0] > 0 else 0

    def predict_np(self, A: np.ndarray) -> np.ndarray:
        """``predict`` of each column of ``A``."""
        return (A[0] > 0).astype(int)

    def _check_target(self, y: Any, nout: int) -> float:
        _one_output(self.name, nout)
        if not isinstance(y, numbers.Real) or not 0 <= y <= 1:  # refuses nan, as every loss
            raise ValueError(f"bce_with_logits: a target must be a number in [0, 1], got {y!r}")
        return float(y)

    def _costs_np(self, A, Y):
        import numpy as np
        return (np.logaddexp(0.0, A) - Y.T * A)[0]

    def _grad_np(self, A, Y):
        return sigmoid_np(A) - Y.T


class SoftmaxCrossEntropy(Loss):
    """``-log softmax(a)_y`` for logits ``a`` (``nout >= 2``) and a class index ``y``."""

    name = "softmax_cross_entropy"

    def cost(self, output: Sequence[Value], row: Sequence[Any]) -> Value:
        """``log sum_k e^(a_k) - a_y`` for one sample, computed stably; ``a_y`` is the dot
        product of the logits with the one-hot row, one node whatever the label."""
        return _log_sum_exp(output) - Value.affine(row, output, 0.0)

    def predict(self, output: Sequence[float]) -> int:
        """The index of the largest logit."""
        return max(range(len(output)), key=output.__getitem__)

    def predict_np(self, A: np.ndarray) -> np.ndarray:
        """``predict`` of each column of ``A`` (the first largest logit, as ``predict``)."""
        return A.argmax(axis=0)

    def _check_target(self, y: Any, nout: int) -> int:
        if nout < 2:
            raise ValueError("softmax_cross_entropy needs an MLP with at least 2 outputs")
        if isinstance(y, bool) or not isinstance(y, numbers.Integral) or not 0 <= y < nout:
            raise ValueError(f"softmax_cross_entropy: a target must be a class index in "
                             f"0..{nout - 1}, got {y!r}")
        return int(y)

    def row(self, target: Any, nout: int) -> list[float]:
        """The class one-hot: 1.0 at the label, 0.0 elsewhere."""
        label = self._check_target(target, nout)
        return [1.0 if k == label else 0.0 for k in range(nout)]

    def _costs_np(self, A, Y):
        import numpy as np
        shift = A.max(axis=0)
        lse = shift + np.log(np.exp(A - shift).sum(axis=0))
        return lse - (A * Y.T).sum(axis=0)

    def _grad_np(self, A, Y):
        import numpy as np
        e = np.exp(A - A.max(axis=0))
        return e / e.sum(axis=0) - Y.T


class L2Penalty:
    """``alpha * sum(p^2)`` over the parameters (micrograd's demo regularizes every parameter).

    Add it to a data loss: ``loss(outputs, targets) + L2Penalty(1e-4)(mlp.parameters())``. Its
    gradient is ``2 alpha p``; the closed form adds ``2 alpha W`` and ``2 alpha b``.
    """

    def __init__(self, alpha: float) -> None:
        if not isinstance(alpha, numbers.Real) or not alpha >= 0 or not math.isfinite(alpha):
            raise ValueError(f"the L2 penalty's alpha must be a finite number >= 0, got {alpha!r}")
        self.alpha = float(alpha)

    def __call__(self, parameters: Sequence[Value]) -> Value:
        """``alpha * sum(p^2)`` as a Value (add it to the data loss)."""
        if isinstance(parameters, str | Value | Mapping) or not isinstance(parameters, Iterable):
            hint = " (pass mlp.parameters())" if hasattr(parameters, "parameters") else ""
            raise TypeError(f"L2Penalty expects a list of parameters (Values){hint}, got "
                            f"{type(parameters).__name__}: {parameters!r:.40}")
        parameters = list(parameters)
        for i, p in enumerate(parameters):
            if type(p) is not Value:
                raise TypeError(f"L2Penalty: parameter {i} is a {type(p).__name__}, not a Value "
                                "(a number has no gradient to penalize)")
        return self.alpha * Value.sum([p * p for p in parameters])

    def __repr__(self) -> str:
        return f"L2Penalty(alpha={self.alpha!r})"


mse = MeanSquaredError()
hinge = Hinge()
bce_with_logits = BinaryCrossEntropyWithLogits()
softmax_cross_entropy = SoftmaxCrossEntropy()

LOSSES: dict[str, Loss] = {loss.name: loss for loss in (mse, hinge, bce_with_logits,
                                                         softmax_cross_entropy)}
"""The losses by name (reduction ``mean``)."""


# -- helpers ------------------------------------------------------------------------------------


def _log_sum_exp(xs: Sequence[Value]) -> Value:
    """``log sum_k e^(x_k)``, shifted by the largest ``x_k`` (a node of zero derivatives, 0.0 for
    inf or nan logits, which IEEE arithmetic then carries): it cannot overflow."""
    shift = apply("max_shift", *xs)
    return Value.sum([(x - shift).exp() for x in xs]).log() + shift


def _finite(x: numbers.Real) -> bool:
    try:
        return math.isfinite(x)
    except OverflowError:  # an int beyond the float range
        return False


def _total(terms: list[Value]) -> Value:
    """The sum of ``terms`` as one node; one term is its own sum (no one-operand ``sum`` node,
    which would only lengthen the graph a student reads)."""
    return terms[0] if len(terms) == 1 else Value.sum(terms)


def _square(d: Value) -> Value:
    return d * d


def _one_output(name: str, nout: int) -> None:
    if nout != 1:
        raise ValueError(f"{name} needs an MLP with exactly 1 output, got {nout}")


def sigmoid_np(A: np.ndarray) -> np.ndarray:
    """The logistic function, elementwise; never overflows (also ``closed_form``'s sigmoid)."""
    import numpy as np
    e = np.exp(-np.abs(A))
    return np.where(A >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
