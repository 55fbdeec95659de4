"""What each node of a gradient's graph is: names for drawing ``x.grad`` as a graph of its own.

After ``y.backward(create_graph=True)``, each ``u.grad`` is a node: ``dy/du``. The backward pass
made it from the terms of the chain rule, ``sum_n dn/du * dy/dn`` over the nodes ``n`` that use
``u``, each ``dn/du`` computed by ``n``'s rule run on Values. :func:`gradient_names` gives those
nodes their names, read off the graph after the fact (the pass itself labels nothing, so it
costs nothing), for ``draw_graph(x.grad, gradient_of=y)``.
"""

from __future__ import annotations

from engine.programs import written
from engine.text import derivative
from engine.value import Value, ancestors


def gradient_names(output: Value, names: dict[Value, str] | None = None) -> dict[Value, str]:
    """Names for the nodes of ``output``'s graph and for those that
    ``output.backward(create_graph=True)`` made: ``dy/du`` for each ``u.grad`` (``dy/dy`` for
    the seed, which ``+`` passes on unchanged), ``dn/du`` for the local derivative that
    multiplies ``dy/dn`` in it.

    The nodes of ``output``'s own graph are named by ``names``, else by their labels, numbers,
    short expressions such as ``a * b``, else ``#k`` (k: their place in creation order).
    """
    if type(output) is not Value:
        raise TypeError(f"gradient_names needs the Value that backward was called on, not "
                        f"{type(output).__name__}")
    forward = ancestors(output)
    known = _forward_names(forward, names or {})
    of = known[output]
    found: dict[Value, str] = {}
    users: dict[Value, list[Value]] = {}
    rules: list[Value] = []  # the local derivatives found
    for n in forward:
        for p in n.parents:
            users.setdefault(p, []).append(n)
    for u in reversed(forward):  # newest first: a gradient passed on is named by its origin
        g = u.grad
        if type(g) is Value and g not in found and g not in known:
            found[g] = derivative(of, known[u])
    for u in forward:
        if type(u.grad) is not Value:
            continue
        for local, upstream in _terms(u.grad):
            n = next((n for n in users.get(u, ()) if n.grad is upstream), None)
            if n is not None and local not in known and local not in found:
                found[local] = derivative(known[n], known[u])
                rules.append(local)
    for local in rules:  # the nodes of a rule run on Values
        stack = list(local.parents)
        while stack:
            v = stack.pop()
            if v.parents and v not in known and v not in found:
                found[v] = f"part of {found[local]}"
                stack.extend(v.parents)
    for u in forward:  # what is left between them: the terms and the sums on the way
        g = u.grad
        if type(g) is Value:
            for v, what in _sum_nodes(g):
                if v not in known and v not in found:
                    found[v] = f"{what} of {found.get(g, derivative(of, known[u]))}"
    return {**known, **found}


def _sum_nodes(g: Value) -> list[tuple[Value, str]]:
    """The nodes inside a gradient's sum of terms: each product (``"term"``) and each sum on the
    way (``"partial sum"``), from ``0 + t_1 + t_2 ...`` as the backward pass adds them up."""
    out, stack = [], list(g.parents) if g.op in ("+", "sum") else []
    while stack:
        v = stack.pop()
        if v.op == "*":
            out.append((v, "term"))
        elif v.op in ("+", "sum"):
            out.append((v, "partial sum"))
            stack.extend(v.parents)
    return out


def _terms(g: Value) -> list[tuple[Value, Value]]:
    """The chain-rule terms ``(local, upstream)`` a gradient node adds up: the products ``*``
    (the first operand is the local derivative) that its sums add up."""
    terms, stack = [], [g]
    while stack:  # a leaf's gradient may be a chain of + over its terms (0.0 + t_1 + t_2 ...)
        v = stack.pop()
        if v.op == "*":
            terms.append(tuple(v.parents))
        elif v.op in ("+", "sum"):
            stack.extend(reversed(v.parents))
    return terms  # type: ignore[return-value]


def _forward_names(nodes: list[Value], names: dict[Value, str]) -> dict[Value, str]:
    known: dict[Value, str] = {}
    for k, v in enumerate(nodes):  # oldest first: operands are named before their users
        if v.label or v in names:
            known[v] = v.label or names[v]
        elif not v.parents:
            known[v] = f"{v.data:g}"
        else:
            text = written(v.op, [known[p] for p in v.parents])
            known[v] = text if len(text) <= 16 else f"#{k}"
    return known
