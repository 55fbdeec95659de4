"""Running the user's ``f`` on fresh leaves at a point, as often as a check needs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from engine.modes import enable_grad
from engine.testing.nodes import graph_order
from engine.value import Value


def input_names(inputs: Sequence[object]) -> list[str]:
    """How messages name the inputs: a Value's label, else x0, x1, ..."""
    return [getattr(x, "label", "") or f"x{i}" for i, x in enumerate(inputs)]


def default_inputs(f: object, inputs: tuple) -> tuple:
    """The inputs given, or a Program's own ``point`` when none are."""
    if not inputs and getattr(f, "point", None) is not None:
        return tuple(f.point)  # type: ignore[attr-defined]
    return inputs


class Runner:
    """Builds f's graph on fresh, labelled leaves at the point, as often as a check needs.

    Values that f captures (weights, constants built outside f) are older than the runner: each
    build sets their grads to 0, so every check sees the same graph, and :meth:`restore` gives
    them back the grads they had before the check.
    """

    def __init__(self, f: Callable[..., Value], point: list[float], names: list[str]) -> None:
        self.f, self.point, self.names = f, point, names
        self.start = Value(0.0).created  # nodes created before this one were captured by f
        self.saved: dict[Value, float] = {}

    def __call__(self, point: Sequence[float] | None = None) -> tuple[list[Value], Value]:
        leaves = [Value(x, label=n) for x, n in zip(point or self.point, self.names, strict=True)]
        with enable_grad():
            out = self.f(*leaves)
        _require_value(out)
        for node in graph_order(out):
            if node.created < self.start:
                self.saved.setdefault(node, node.grad)
                node.grad = 0.0
        return leaves, out

    def restore(self) -> None:
        """Give the Values f captured the grads they had before the first build."""
        for node, grad in self.saved.items():
            node.grad = grad

    def grads(self, seed: float, passes: int = 1) -> list[float] | tuple[list[float], ...]:
        """The leaves' grads after each of ``passes`` backward(seed) on one fresh graph."""
        leaves, out = self()
        snapshots = []
        for _ in range(passes):
            out.backward(seed)
            snapshots.append([leaf.grad for leaf in leaves])
        return snapshots[0] if passes == 1 else tuple(snapshots)


def _require_value(out: object) -> None:
    if type(out) is not Value:
        raise TypeError(f"f must return a Value built from the Values it is given, got "
                        f"{type(out).__name__}: {out!r:.80}")
