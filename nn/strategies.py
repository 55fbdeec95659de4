"""Hypothesis strategies for ``nn``: random networks and small data sets.

They build on :mod:`engine.strategies` (its numbers, its settings profiles) the way ``nn``
builds on the engine. Needs hypothesis: ``pip install "deltagrad[strategies]"``.
"""

from __future__ import annotations

from collections.abc import Sequence

try:
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("nn.strategies needs hypothesis: pip install \"deltagrad[strategies]\" "
                      "(or pip install hypothesis)") from error

from engine.testing.strategies import finite_floats
from nn.data import Dataset
from nn.mlp import ACTIVATIONS, INITS, MLP

__all__ = ["datasets", "mlps"]

_INPUT_COUNTS = st.integers(1, 3)
_DATASET_SIZES = st.integers(1, 8)


def mlps(nin: int | st.SearchStrategy[int] = _INPUT_COUNTS,
         widths: st.SearchStrategy[list[int]] | None = None,
         activations: Sequence[str] = ("tanh", "sigmoid", "relu", "leaky_relu", "linear"),
         output_activations: Sequence[str] = ("linear", "tanh", "sigmoid"),
         inits: Sequence[str] | None = None) -> st.SearchStrategy[MLP]:
    """``nn.MLP`` networks of random architecture, initialised from a drawn seed.

    Printed as the call that rebuilds them (``MLP(nin=2, nouts=[3, 1], ..., seed=7)``).
    ``widths`` draws the layer sizes (default 1 to 3 layers of 1 to 4 neurons).
    """
    for what, names, known in (("activations", activations, ACTIVATIONS),
                               ("output_activations", output_activations, ACTIVATIONS),
                               ("inits", inits, INITS)):
        _check_names(what, names, known)
    nin = nin if isinstance(nin, st.SearchStrategy) else st.just(nin)
    if widths is None:
        widths = st.lists(st.integers(1, 4), min_size=1, max_size=3)
    return st.builds(MLP, nin=nin, nouts=widths, activation=st.sampled_from(activations),
                     output_activation=st.sampled_from(output_activations),
                     seed=st.integers(0, 2**32 - 1),
                     init=st.sampled_from(inits or INITS))


def _check_names(what: str, names: Sequence[str] | None, known: Sequence[str]) -> None:
    """A list of known names (or None; activations may also be callables); a str is refused,
    not split into its letters."""
    if names is None:
        return
    if isinstance(names, str):
        raise TypeError(f"{what} must be a list of names, not the str {names!r:.40} "
                        f"(write {what}=[{names!r:.40}])")
    unknown = [n for n in names if not (n in known if isinstance(n, str)
                                        else callable(n) and what != "inits")]
    if unknown or not names:
        raise ValueError(f"{what}: unknown names {unknown!r:.60}; known: {', '.join(known)}"
                         if unknown else f"{what} must name at least one of {', '.join(known)}")


@st.composite
def datasets(draw: st.DrawFn, nin: int | st.SearchStrategy[int] = _INPUT_COUNTS,
             n: st.SearchStrategy[int] = _DATASET_SIZES, task: str = "regression",
             values: st.SearchStrategy[float] | None = None) -> Dataset:
    """A small ``nn.data.Dataset``: ``n`` points of ``nin`` features in [-2, 2]; targets are
    floats (``task="regression"``) or labels 0/1 (``"binary"``)."""
    if task not in ("regression", "binary"):
        raise ValueError(f"task must be 'regression' or 'binary', got {task!r}")
    width = draw(nin) if isinstance(nin, st.SearchStrategy) else nin
    size = draw(n)
    floats = values or finite_floats()
    X = [[draw(floats) for _ in range(width)] for _ in range(size)]
    y = [draw(floats) if task == "regression" else draw(st.integers(0, 1)) for _ in range(size)]
    return Dataset(X, y)
