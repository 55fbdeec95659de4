"""The backward pass on a table of its own: ``chain_rule`` is ``Value.backward``'s loop with
the gradients in a dict instead of the nodes' ``.grad`` (``engine.grad`` and create_graph run
it), and ``chain_rule_steps`` writes down each of its steps (the film strip, the trace table and
gradcheck's reference pass read them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from engine.derivatives import local_derivatives
from engine.graph_order import backward_order

if TYPE_CHECKING:
    from engine.value import Value


def chain_rule(order: Sequence[Value], grads: dict, upstream: Callable | None = None,
               on_values: bool = False) -> None:
    """``backward``'s loop on a table instead of the nodes: ``grads[u]`` is u's gradient
    (``grads[root]`` its seed; a missing entry reads as 0, as in a ``defaultdict(float)``), and
    no ``.grad`` is read or written, so passes in several threads on shared parameters never
    meet. ``upstream(node)``, if given, is a node's gradient as the pass multiplies it (see
    ``engine.create_graph``); ``on_values`` runs the rules on Values."""
    for node in order:  # each node after every node that uses it: its gradient is complete
        g = grads[node] if upstream is None else upstream(node)
        for operand, local in local_derivatives(node, on_values):
            grads[operand] += local * g  # the chain rule, as in backward


class _Steps(dict):
    """The table of ``chain_rule_steps``: it writes down each step of the chain rule as the pass
    takes it (the node comes from ``upstream``, the local derivative from the same rule)."""

    def __init__(self, root: Value, grad: float) -> None:
        super().__init__({root: grad})
        self.steps: list[tuple] = []

    def __missing__(self, node: Value) -> float:
        return 0.0

    def upstream(self, node: Value) -> float:
        self.node, self.g, self.slot = node, self[node], 0
        self.locals = local_derivatives(node)
        return self.g

    def __setitem__(self, operand: Value, after: float) -> None:
        local = self.locals[self.slot][1]
        self.steps.append((self.node, self.slot, operand, local, self.g, self[operand], after))
        self.slot += 1
        super().__setitem__(operand, after)


def chain_rule_steps(root: Value, grad: float = 1.0,
                     order: Sequence[Value] | None = None) -> list[tuple]:
    """The backward pass from ``root`` (seeded with ``grad``), step by step: for each node in
    ``backward_order`` (or ``order``, an order of one's own to check it against), for each of
    its operands, ``(node, slot, operand, local, upstream, before, after)``: operand number
    ``slot`` of ``node`` has its gradient go from ``before`` to ``after = before + local *
    upstream``, ``local`` being d node / d operand and ``upstream`` node's gradient, complete.
    It runs ``chain_rule``, so the numbers are exactly those of ``zero_grad()`` then
    ``backward(grad)``, and no ``.grad`` changes. The film strip, the trace table and
    gradcheck's reference pass read the backward pass here."""
    table = _Steps(root, grad)
    chain_rule(backward_order(root) if order is None else order, table, table.upstream)
    return table.steps
