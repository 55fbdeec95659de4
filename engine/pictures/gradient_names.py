"""What each node of a gradient's graph is: names for drawing ``x.grad`` as a graph of its own.

After ``y.backward(create_graph=True)``, each ``u.grad`` is a node: ``dy/du``. The backward pass
made it from the terms of the chain rule, ``sum_n dn/du * dy/dn`` over the nodes ``n`` that use
``u``, each ``dn/du`` computed by ``n``'s rule run on Values, and wrote their sum as one node
(``engine.create_graph.GradientSums``): ``dy/dn`` itself for a lone term ``1 * dy/dn``, a
product for another lone term, else a ``sum`` or an ``affine`` node ``sum_k local_k *
upstream_k``.
:func:`gradient_names` gives those nodes their names, read off the graph after the fact (the
pass itself labels nothing, so it costs nothing), for ``draw_graph(x.grad, gradient_of=y)``.
"""

from __future__ import annotations

from engine.graph_order import ancestors
from engine.pictures.notation import derivative, written
from engine.value import Value


def gradient_names(output: Value, names: dict[Value, str] | None = None) -> dict[Value, str]:
    """Names for the nodes of ``output``'s graph and for those that
    ``output.backward(create_graph=True)`` made: ``dy/du`` for each ``u.grad`` (``dy/dy`` for
    the seed, which ``+`` passes on unchanged), ``dn/du`` for the local derivative that
    multiplies ``dy/dn`` in it, ``part of dn/du`` for the nodes of a rule run on Values.

    The nodes of ``output``'s own graph are named by ``names``, else by their labels, their
    numbers (constants: ``Value.constant``), short expressions such as ``a * b``, else ``v<k>``
    (k: their place in creation order).
    """
    if type(output) is not Value:
        raise TypeError(f"gradient_names needs the Value that backward was called on, not "
                        f"{type(output).__name__}")
    forward = ancestors(output)
    known = _forward_names(forward, names or {})
    of = known[output]
    found: dict[Value, str] = {}
    users: dict[Value, list[Value]] = {}
    for n in forward:
        for p in n.parents:
            users.setdefault(p, []).append(n)
    for u in reversed(forward):  # newest first: a gradient passed on is named by its origin
        g = u.grad
        if type(g) is Value and g not in found and g not in known:
            found[g] = derivative(of, known[u])
    rules: list[Value] = []  # the local derivatives found
    for u in forward:
        if type(u.grad) is not Value:
            continue
        for local, upstream in _terms(u.grad, {n.grad for n in users.get(u, ())}):
            n = next((n for n in users.get(u, ()) if n.grad is upstream), None)
            if n is not None and type(local) is Value and local not in known \
                    and local not in found:
                found[local] = derivative(known[n], known[u])
                rules.append(local)
    for local in rules:  # the nodes of a rule run on Values
        stack = list(local.parents)
        while stack:
            v = stack.pop()
            if v.parents and v not in known and v not in found:
                found[v] = f"part of {found[local]}"
                stack.extend(v.parents)
    return {**known, **found}


def _terms(g: Value, upstreams: set) -> list[tuple[object, Value]]:
    """The chain-rule terms ``(local, upstream)`` that the gradient node ``g`` adds up, as
    ``GradientSums.total`` wrote them, given the gradients of the nodes that use its node."""
    if g in upstreams:
        return [(1.0, g)]  # a lone term 1 * dy/dn: the upstream gradient passed on
    operands = g.parents
    if g.op == "*" and operands[1] in upstreams:
        return [(operands[0], operands[1])]
    if g.op == "sum":
        return [(1.0, x) for x in operands]
    if g.op == "affine":  # (local_1..local_n, upstream_1..upstream_n, what the grad held before)
        n = len(operands) // 2
        return list(zip(operands[:n], operands[n:-1], strict=True))
    return []


def _forward_names(nodes: list[Value], names: dict[Value, str]) -> dict[Value, str]:
    known: dict[Value, str] = {}
    for k, v in enumerate(nodes):  # oldest first: operands are named before their users
        if v.label or v in names:
            known[v] = v.label or names[v]
        elif not v.parents:  # a number given to an op by its number, any other leaf v<k>
            known[v] = f"{v.data:g}" if v.constant else f"v{k}"
        else:
            text = written(v.op, [known[p] for p in v.parents])
            known[v] = text if len(text) <= 16 else f"v{k}"
    return known
