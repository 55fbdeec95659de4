"""Pickling and deep copies of graphs of any depth, gradient graphs included.

pickle and deepcopy write an object's state right after the object, so a node's state writes its
operands, theirs, and so on: as deep in Python's stack as the graph is deep (RecursionError past
a few hundred nodes). So the first node written puts before its own state every node it reaches,
through operands and through gradients that are Values (after ``create_graph=True``), oldest
first: each then finds its operands written already, one level deep. Their Value gradients,
which may be newer than they are, are written last, in a list of ``(node, grad)`` pairs that the
first node's ``__setstate__`` puts back.
"""

from __future__ import annotations

import threading

from engine.derivatives import OPS
from engine.graph_order import created

STATE_LENGTH = 6  # (data, grad, label, op, x, y), as Value.__setstate__ reads them


class _Writing(threading.local):
    covered: frozenset[int] = frozenset()  # ids of the nodes the list being written holds


_WRITING = _Writing()


class _EndOfList:
    """Closes the list of nodes written first: when pickle or deepcopy reach it, that list is
    written (nodes written from then on are written whole)."""

    def __reduce__(self) -> tuple:
        _WRITING.covered = frozenset()
        return tuple, ()


def state(node) -> tuple:
    """``node``'s state: ``(data, grad, label, op, x, y)``, and for the first node of a graph
    written, before it, the nodes it reaches and their Value gradients (see the module)."""
    own = node.data, node.grad, node.label, node.op, node._x, node._y
    if id(node) in _WRITING.covered:  # in the list: its Value gradient comes later, in the pairs
        return own if type(node.grad) is float else (node.data, 0.0, *own[2:])
    if node._op is None and type(node.grad) is float:  # a leaf: nothing to write before it
        return own
    reached = _reached(node)
    if not reached:
        return own
    _WRITING.covered = frozenset(map(id, reached))
    grads = [(v, v.grad) for v in reached if type(v.grad) is not float]
    return [*reached, _EndOfList()], grads, *own


def _reached(root) -> list:
    """Every node ``root`` reaches through operands and Value gradients, oldest first, except
    root and leaves with a float gradient (those are written whole at once, one level deep)."""
    seen = {root}
    stack = [root]
    while stack:
        node = stack.pop()
        for v in (*node.parents, node.grad):
            if type(v) is not float and v not in seen:
                seen.add(v)
                stack.append(v)
    seen.discard(root)
    return sorted((v for v in seen if v._op is not None or type(v.grad) is not float),
                  key=created)


def restore(saved: tuple) -> tuple:
    """The six slots' values from a saved state (this module's, or an older version's), the
    operation looked up by name; a first node's pairs of Value gradients are put back."""
    if len(saved) == STATE_LENGTH + 2:  # (reached, grads, ...): the first node written
        for v, grad in saved[1]:
            v.grad = grad
    if type(saved[-2]) is str:  # pickled before nodes had two slots: (..., op, parents)
        saved = (*saved[:-1], *_slots_from_parents(saved[-2], saved[-1]))
    data, grad, label, op, x, y = saved[-STATE_LENGTH:]
    return data, grad, label, OPS[op] if op else None, x, y


def _slots_from_parents(op: str, parents: tuple) -> tuple[object, object]:
    """``_x`` and ``_y`` for a node pickled with its operands in one tuple (before 2026-12), as
    nodes store them now (see ``Value``), so that older pickles still load."""
    entry = OPS[op] if op else None
    if entry is None or entry.store is not None:  # a leaf (), or the groups of Op.store
        return (None, None) if entry is None else tuple(parents)
    if entry.arity in (1, 2):
        return parents[0], parents[1] if len(parents) == 2 else None
    return parents, None
