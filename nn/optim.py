"""Optimizers: SGD (momentum, weight decay) and Adam, with PyTorch's update rules.

``step()`` reads each parameter's ``grad`` and changes its ``data`` in place: plain float
arithmetic, so an update builds no graph. ``zero_grad()`` sets every ``grad`` to 0.

A step is whole or not at all: every new number (parameters and the optimizer's own state) is
computed first, then all are written with Ctrl-C held back (:mod:`nn.interrupts`), so an error or
an interrupt never leaves a model half stepped. A grad that is a Value (after
``backward(create_graph=True)``) counts as its number, as PyTorch's optimizers use a tensor's
value whatever graph it belongs to; a grad or data that is not a real number is refused before
anything changes.

Each rule is written once, on NumPy arrays of all the parameters (``array_updates``): ``step()``
runs it on the Values' numbers, and ``fit(..., compiled=True)`` on the array in which it keeps
the parameters while it trains. IEEE arithmetic rounds each ``+ - * / sqrt`` alike on a float
and in an array, so both give the numbers the rule gives written out for one float.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

from engine import Value
from nn.checks import hyperparameter
from nn.interrupts import interrupts_deferred

__all__ = ["SGD", "Adam", "Optimizer"]


class Optimizer:
    """Holds the parameters (leaf Values) an optimizer updates."""

    def __init__(self, parameters: Iterable[Value], lr: float) -> None:
        if isinstance(parameters, str | Value) or not isinstance(parameters, Iterable):
            hint = " (pass mlp.parameters())" if hasattr(parameters, "parameters") else ""
            raise TypeError(f"the optimizer expects a list of parameters (Values){hint}, got "
                            f"{type(parameters).__name__}: {parameters!r:.40}")
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError("the optimizer got an empty parameter list")
        first: dict[int, int] = {}  # id -> index: a parameter listed twice would move twice
        for i, p in enumerate(self.parameters):
            if type(p) is not Value:
                raise TypeError(f"parameter {i} must be a Value, not {type(p).__name__}")
            j = first.setdefault(id(p), i)
            if j != i:
                raise ValueError(f"parameter {i} is parameter {j} again: each step would update "
                                 "it twice")
        self.lr = hyperparameter(lr, "lr")

    def step(self) -> None:
        """Update every parameter's ``data`` from its ``grad``, all of them or, on an error, none.

        The number of a Value grad is used (see the module's docstring); subclasses define the
        rule in ``array_updates``.
        """
        new_data, new_state = self._updated(*self._arrays())
        with interrupts_deferred():
            for p, x in zip(self.parameters, new_data, strict=True):
                p.data = x
            for name, value in new_state.items():
                setattr(self, name, value)

    def _updated(self, x: Any, g: Any) -> tuple[list[float], dict]:
        """The new ``data`` of every parameter and the new values of the optimizer's state
        attributes, as lists, from the arrays of their numbers ``x`` and gradients ``g``;
        changes nothing itself."""
        import numpy as np
        with np.errstate(all="ignore"):  # inf and nan are IEEE's, as on floats: no warnings
            new, state = self.array_updates(x, g, self.array_state())
        return new.tolist(), {name: value.tolist() if isinstance(value, np.ndarray) else value
                              for name, value in state.items()}

    def _arrays(self) -> tuple[Any, Any]:
        """Every parameter's data and grad as float arrays, read in C loops; a grad that is a
        Value counts as its number, anything else not a float goes through ``_numbers``'
        checks (a TypeError naming the parameter)."""
        import numpy as np
        xs, gs = list(map(_DATA, self.parameters)), list(map(_GRAD, self.parameters))
        if {*map(type, xs), *map(type, gs)} != {float}:
            pairs = self._numbers()
            xs, gs = [x for x, _ in pairs], [g for _, g in pairs]
        return np.array(xs, dtype=float), np.array(gs, dtype=float)

    def array_updates(self, x: Any, g: Any, state: dict) -> tuple[Any, dict]:
        """The rule: the new numbers of the parameters whose numbers are ``x`` and gradients
        ``g`` (arrays in the order of ``parameters``), and the new ``state`` (from
        ``array_state``); changes nothing itself."""
        raise NotImplementedError

    def array_state(self) -> dict:
        """The optimizer's state as ``array_updates`` takes it: per-parameter lists as arrays."""
        import numpy as np
        return {name: np.array(value, dtype=float) if isinstance(value, list) else value
                for name, value in self._state().items()}

    def load_state(self, state: dict) -> None:
        """Take ``state`` (from ``array_updates``) as the optimizer's own, arrays as lists."""
        for name, value in state.items():
            setattr(self, name, value.tolist() if hasattr(value, "tolist") else value)

    def _state(self) -> dict:
        """The attributes the rule changes, by name."""
        return {}

    def _numbers(self) -> list[tuple[float, float]]:
        """``(data, grad)`` of every parameter as floats; TypeError naming the first that is
        not a real number, raised before any parameter changes."""
        pairs = []
        for i, p in enumerate(self.parameters):
            x, g = p.data, p.grad
            if type(g) is Value:
                g = g.data  # backward(create_graph=True): the gradient's number
            if type(x) is not float or type(g) is not float:
                x, g = _real(x, i, "data"), _real(g, i, "grad")
            pairs.append((x, g))
        return pairs

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to 0 (before the next ``backward()``)."""
        for p in self.parameters:
            p.grad = 0.0


class SGD(Optimizer):
    """``g = grad + weight_decay p``; ``v = momentum v + g`` (``v`` starts at 0); ``p -= lr v``.

    Without momentum this is ``p -= lr (grad + weight_decay p)``.
    """

    def __init__(self, parameters: Iterable[Value], lr: float = 0.01, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(parameters, lr)
        self.momentum = hyperparameter(momentum, "momentum")
        if self.momentum >= 1:
            raise ValueError(f"momentum must be < 1 (a velocity that never decays grows without "
                             f"bound), got {momentum!r:.40}")
        self.weight_decay = hyperparameter(weight_decay, "weight_decay")
        self.velocity = [0.0] * len(self.parameters)

    def array_updates(self, x: Any, g: Any, state: dict) -> tuple[Any, dict]:
        """One SGD update: the new numbers, and the new ``velocity`` when there is momentum."""
        if self.weight_decay:
            g = g + self.weight_decay * x
        if not self.momentum:
            return x - self.lr * g, {}
        velocity = self.momentum * state["velocity"] + g
        return x - self.lr * velocity, {"velocity": velocity}

    def _state(self) -> dict:
        return {"velocity": self.velocity}

    def __repr__(self) -> str:
        return (f"SGD(lr={self.lr!r}, momentum={self.momentum!r}, "
                f"weight_decay={self.weight_decay!r}, {len(self.parameters)} parameters)")


class Adam(Optimizer):
    """Adam (Kingma and Ba), as PyTorch computes it, with L2 ``weight_decay`` added to grad.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.
    """

    def __init__(self, parameters: Iterable[Value], lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(parameters, lr)
        if isinstance(betas, str) or not isinstance(betas, Sequence) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1), got "
                             f"{betas!r}")
        b1, b2 = betas
        self.betas = (hyperparameter(b1, "beta1", below_one=True),
                      hyperparameter(b2, "beta2", below_one=True))
        self.eps = hyperparameter(eps, "eps", positive=True)  # 0 would divide 0 by 0 at a zero grad
        self.weight_decay = hyperparameter(weight_decay, "weight_decay")
        self.t = 0
        self.m = [0.0] * len(self.parameters)
        self.v = [0.0] * len(self.parameters)

    def array_updates(self, x: Any, g: Any, state: dict) -> tuple[Any, dict]:
        """One Adam update: the new numbers, moments ``m`` and ``v``, and step count ``t``."""
        import numpy as np
        t = state["t"] + 1
        (b1, b2), lr, eps, decay = self.betas, self.lr, self.eps, self.weight_decay
        correction1, correction2 = 1.0 - b1**t, 1.0 - b2**t
        if decay:
            g = g + decay * x
        m = b1 * state["m"] + (1.0 - b1) * g
        v = b2 * state["v"] + (1.0 - b2) * g * g
        return x - lr * (m / correction1) / (np.sqrt(v / correction2) + eps), {"m": m, "v": v,
                                                                                "t": t}

    def _state(self) -> dict:
        return {"m": self.m, "v": self.v, "t": self.t}

    def __repr__(self) -> str:
        return (f"Adam(lr={self.lr!r}, betas={self.betas!r}, eps={self.eps!r}, "
                f"weight_decay={self.weight_decay!r}, {len(self.parameters)} parameters)")


_DATA, _GRAD = attrgetter("data"), attrgetter("grad")


def _real(x: object, i: int, what: str) -> float:
    """A parameter's data or grad as a float; TypeError if it is not a real number."""
    if isinstance(x, numbers.Real) and not isinstance(x, bool | Value):
        try:
            return float(x)
        except OverflowError:  # an int beyond the float range
            pass
    hint = (" (a Value data: the model was changed by hand; set p.data to a float)"
            if isinstance(x, Value) else "")
    raise TypeError(f"optimizer step: parameter {i}'s {what} is {type(x).__name__} "
                    f"{x!r:.40}, not a real number{hint}; no parameter was changed")
