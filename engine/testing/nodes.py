"""A graph's nodes in order, and the names messages give them (labels, v<k>, numbers)."""

from __future__ import annotations

from collections.abc import Iterator

from engine.pictures.notation import written
from engine.value import Value


def graph_order(root: Value) -> list[Value]:
    """root's graph in a topological order (parents first), by depth-first search: its own
    traversal, independent of the engine's, so the diagnosis does not share the engine's bugs."""
    order: list[Value] = []
    seen = {root}
    stack: list[tuple[Value, Iterator[Value]]] = [(root, iter(root.parents))]
    while stack:
        node, operands = stack[-1]
        parent = next(operands, None)
        if parent is None:
            stack.pop()
            order.append(node)
        elif parent not in seen:
            seen.add(parent)
            stack.append((parent, iter(parent.parents)))
    return order


def node_names(order: list[Value]) -> dict[Value, str]:
    """Labels where set; else v<k>, k the node's position in creation order (stable between
    runs, unlike memory addresses); constant leaves are shown as their number and not counted,
    so ``f(x0) = (x0 - 1).relu()`` has nodes x0, v1, v2, the names a Program of it gives."""
    names = {}
    k = 0
    for node in sorted(order, key=lambda v: v.created):
        if node.label:
            names[node] = node.label
        elif not node.parents:
            names[node] = _number(node.data)
            continue
        else:
            names[node] = f"v{k}"
        k += 1
    return names


def is_constant(node: Value, names: dict[Value, str]) -> bool:
    """An unlabelled leaf shown as its number: a constant of f, not an input."""
    return not node.parents and not node.label and names.get(node) == _number(node.data)


def _number(x: float) -> str:
    return repr(float(x))


def expression(node: Value, names: dict[Value, str]) -> str:
    """``v5 * v3``, ``tanh(v2)``, ``leaky_relu(v2, 0.01)``: a node as its op applied to names."""
    return written(node.op, [names[p] for p in node.parents])
