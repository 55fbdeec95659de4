"""The orders of a graph: ``ancestors`` (every node, oldest first) and ``backward_order`` (the
interior nodes in the order of the backward pass). Both only read the graph, so they are safe
while other threads read it too; ``walk`` is the one ``Value.backward`` runs: the same order, found
faster by marking the nodes with the gradient it gives them anyway, 0.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.value import Value


class _PassZero(float):
    """A float 0 that is always a new object, even where ``is`` compares floats by value
    (PyPy). On CPython ``float(0)`` is one already, and cheaper to make."""

    __slots__ = ()


_new_zero = float if sys.implementation.name == "cpython" else _PassZero


def walk(root: Value) -> list[Value]:
    """``backward_order(root)``, setting the grad of each node found to 0 on the way: interior
    nodes receive this pass's gradient only.

    The 0 is a float made for this walk, so ``grad is zero`` tells the walk that it found a node
    already, with no set of nodes to fill and search (``backward_order``'s way costs 16 % more
    instructions on a small backward, W5, and 4 % on a training step, W1n). The grad is a float
    0 all along, as it is once the pass starts; the first ``+=`` replaces it.
    """
    zero = _new_zero(0)  # a new object: this walk's zero
    order = [root]
    groups_walked = None  # the ids of the groups walked (a set, made at the first group)
    shared = False
    for node in order:  # the list grows while we walk it: a queue without pops
        x, y = node._x, node._y
        if type(x) is not tuple:  # one or two operands (see Value): x, then y if there is one
            if x._op is not None:  # an interior node
                if x.grad is zero:
                    shared = True
                else:
                    x.grad = zero
                    order.append(x)
            if y is not None and y._op is not None:
                if y.grad is zero:
                    shared = True
                else:
                    y.grad = zero
                    order.append(y)
            continue
        operands = x  # more operands: a tuple, or two groups (Op.store) each walked once
        if node._op.operands is not None:
            if groups_walked is None:
                groups_walked = set()
            operands = ()
            for group in (x, y):
                if id(group) in groups_walked:
                    shared = True
                else:
                    groups_walked.add(id(group))
                    operands = operands + group if operands else group
        for operand in operands:  # as for x and y above
            if operand._op is not None:
                if operand.grad is zero:
                    shared = True
                else:
                    operand.grad = zero
                    order.append(operand)
    if shared:
        order.sort(key=created, reverse=True)
    return order


def backward_order(root: Value) -> list[Value]:
    """The non-leaf ancestors of ``root`` (itself included) in the order ``backward`` visits them:
    each node after all the nodes that use it, so its gradient is complete when it is reached.
    Leaves are left out: they only receive gradients. No node is changed.

    Breadth-first from the root: when no interior node is reached twice (a tree), the order
    found is already each node after all its users. Otherwise the nodes are sorted newest
    first: creation order is a topological order, because a node's operands exist before it.
    A node that stores its operands in groups shared with other nodes (an ``affine`` node: its
    layer's inputs) has each group walked once, by its id.
    """
    if root._op is None:
        return []
    order = [root]
    found = {root}
    groups_walked: set[int] = set()
    shared = False
    for node in order:  # the list grows while we walk it: a queue without pops
        x, y = node._x, node._y
        if type(x) is not tuple:  # one or two operands (see Value): x, then y if there is one
            operands = (x,) if y is None else (x, y)
        elif node._op.operands is None:  # many operands, in one tuple
            operands = x
        else:  # two groups (Op.store), each walked once
            operands = ()
            for group in (x, y):
                if id(group) in groups_walked:
                    shared = True
                else:
                    groups_walked.add(id(group))
                    operands = operands + group if operands else group
        for operand in operands:
            if operand._op is not None:  # an interior node
                if operand in found:
                    shared = True
                else:
                    found.add(operand)
                    order.append(operand)
    if shared:
        order.sort(key=created, reverse=True)
    return order


def created(node: Value) -> int:
    """A node's creation number (``Value.created``), as a sort key."""
    return node._seq


def ancestors(root: Value, *more: Value) -> list[Value]:
    """``root`` (and ``more`` roots) and every Value they were computed from, oldest first (a
    topological order), each once."""
    seen = {root, *more}
    stack = list(seen)
    while stack:
        for parent in stack.pop().parents:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=created)
