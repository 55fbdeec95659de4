"""``create_graph=True``: the backward pass run on Values, each gradient written as one node.

The chain rule gives a node u the gradient dy/du = sum_n dn/du * dy/dn over the nodes n that
use it. Built one term at a time, that sum would be two nodes per term, a ``*`` and a ``+``.
Instead the pass is ``engine.chain_rule.chain_rule`` (backward's loop) on a table of its own,
:class:`GradientSums`: there ``local * g`` is the pair ``(local, dy/dn)`` (``g`` an
:class:`Upstream`), ``+=`` adds it to u's :class:`Terms`, and when the pass reaches u (or ends,
for a leaf) :meth:`GradientSums.total` writes the terms as one node: a weight used by 100
samples gets one node of 100 terms, not 200 nodes. The terms live in the pass's table, never in
a ``.grad``: ``backward`` writes the finished gradients at the end, ``engine.grad`` none.
"""

from __future__ import annotations

import threading

from engine import diagnosis, value
from engine.chain_rule import chain_rule
from engine.graph_order import backward_order
from engine.modes import MODE, OPEN_ANOMALY_BLOCKS, ModeBlock
from engine.value import Value, affine_rows

_LEAVES = threading.Lock()
"""Held while a backward pass adds its sums to leaves' ``.grad``: passes in several threads on
shared parameters each add their whole gradient (``a.grad`` read and written in one go)."""


class Upstream(Value):
    """A node's gradient ``g`` as the chain rule's factor: ``local * Upstream(g)`` is the term
    ``(local, g)``, kept for :meth:`GradientSums.total`, not multiplied. It subclasses Value
    only so that ``value * upstream`` asks it first (Python tries a right operand of a subclass
    first)."""

    __slots__ = ("g",)

    def __init__(self, g: Value) -> None:  # not Value.__init__: an Upstream is no node
        self.g = g

    def __rmul__(self, local: float | Value) -> tuple[float | Value, Value]:
        return local, self.g


class Terms(list):
    """A gradient being added up: ``[local_1, g_1, local_2, g_2, ...]``; ``terms += (local, g)``
    adds a term."""

    __slots__ = ()


class GradientSums(dict):
    """The table of one create_graph pass, as ``chain_rule`` uses it: ``sums[u]`` is u's
    :class:`Terms` (an empty one at first), ``sums.upstream(n)`` n's gradient, complete when the
    pass reaches n, written as one node (kept in ``totals``) and given as an :class:`Upstream`.

    Many sums share their factors: the weights of a neuron all have that neuron's upstream
    gradients, one per sample; the weights of one input all have that input's values. Each
    sequence of factors is made a tuple once and shared (as a layer's inputs are in the first
    graph), so the next backward pass walks it once; a sum with nothing before it gets the
    pass's one constant 0 as its bias.
    """

    def __init__(self, root: Value, seed: Value) -> None:
        super().__init__()
        self.totals: dict[Value, Value | float] = {root: seed}
        self.zero = Value(0.0)
        self.shared: dict[tuple, tuple] = {}

    def __missing__(self, node: Value) -> Terms:
        return Terms()

    def upstream(self, node: Value) -> Upstream:
        total = self.totals.get(node)
        if total is None:
            total = self.totals[node] = self.total(self.get(node))
        return Upstream(total)

    def gradient(self, node: Value) -> Value:
        """``node``'s gradient as a Value (a constant 0 if the pass did not reach it), recorded
        even inside ``no_grad()`` as the pass's own nodes are."""
        g = self.totals.get(node)
        if g is None:
            with ModeBlock(record=True):
                g = self.totals[node] = self.total(self.get(node))
        return g if type(g) is Value else Value(g)

    def total(self, terms: Terms | None, start: float | Value | None = None) -> Value | float:
        """The gradient the terms add up to (after ``start``, a leaf's gradient so far), as one
        node: ``g`` itself for the one term ``(1.0, g)``, a product for any other single term, a
        ``sum`` when every local derivative is 1.0 (a bias's gradient), else an ``affine``
        node ``start + sum_k local_k g_k``."""
        if not terms:
            return 0.0 if start is None else start
        if len(terms) == 2 and start is None:  # one term
            local, g = terms
            return g if type(local) is float and local == 1.0 else local * g
        locals_, gs = terms[0::2], terms[1::2]
        if type(locals_[0]) is float and all(type(x) is float and x == 1.0 for x in locals_):
            return Value.sum(gs if start is None else [start, *gs])
        if start is None:
            start = self.zero
        elif type(start) is not Value:
            start = Value(start)
        row = self._shared((*[x if type(x) is Value else Value(x) for x in locals_], start))
        return affine_rows([row], self._shared(tuple(gs)))[0]

    def _shared(self, factors: tuple) -> tuple:
        return self.shared.setdefault(factors, factors)


def gradients_as_values(root: Value, seed: object, write: bool) -> GradientSums:
    """The pass: every gradient d root / d u as a Value, in a :class:`GradientSums`, ``totals``
    for interior nodes, terms for leaves. With ``write`` (``backward``), each interior node's
    ``.grad`` is set to its gradient and each leaf's gets its sum added, even after an error
    (what was reached), so that ``.grad`` holds a gradient, never terms.

    The gradients' graph is recorded even inside ``no_grad()``: create_graph asks for it (as
    in PyTorch, where create_graph sets grad mode for the pass)."""
    with ModeBlock(record=True):
        seed = seed if type(seed) is Value else Value(value.seed_float(seed))
        sums = GradientSums(root, seed)
        if root.is_leaf:
            if write:
                with _LEAVES:
                    root.grad += seed
            return sums
        order = backward_order(root)
        try:
            _run(root, order, sums)
        finally:
            overflow = _write(root, order, sums) if write else None
        if overflow is not None:  # under detect_anomaly
            raise overflow
        return sums


def _run(root: Value, order: list[Value], sums: GradientSums) -> None:
    node = root
    upstream = sums.upstream
    if OPEN_ANOMALY_BLOCKS[0] and MODE.get().anomaly:  # see OPEN_ANOMALY_BLOCKS
        def upstream(n: Value) -> Upstream:
            g = sums.upstream(n)
            diagnosis.check_step(n, g.g.data)
            return g
    def reached(n: Value) -> Upstream:  # the node whose rule runs, for the messages below
        nonlocal node
        node = n
        return upstream(n)
    try:
        chain_rule(order, sums, reached, on_values=True)
    except (TypeError, ValueError, AttributeError) as error:
        diagnosis.refuse_miscounting_rules(order, error)
        diagnosis.refuse_rules_off_values(order, error)
        raise
    except FloatingPointError as error:  # detect_anomaly, in a rule run on Values: say where
        raise FloatingPointError(f"backward through {node.op} (output "
                                 f"{node.label or 'unlabelled'} = {node.data!r}) with "
                                 f"create_graph=True: {error}") from error


def _start(grad: float | Value) -> float | Value | None:
    """A leaf's gradient so far as the start of its sum: None for nothing (a float 0)."""
    return None if type(grad) is float and grad == 0.0 else grad


def _write(root: Value, order: list[Value], sums: GradientSums) -> FloatingPointError | None:
    """Each gradient into its node's ``.grad``: the interior nodes' (those the pass reached; the
    others' sums so far), then, holding the leaves' lock, each leaf's sum added to its gradient.
    Under ``detect_anomaly`` a sum that adds up to inf or nan is still written; the error naming
    it is returned."""
    found = None
    with _LEAVES:
        for node in (*order, *(u for u in sums if u.is_leaf)):
            total = sums.totals.get(node)
            if total is not None:
                node.grad = total
                continue
            start = _start(node.grad) if node.is_leaf else None
            try:
                node.grad = sums.total(sums.get(node), start)
            except FloatingPointError as error:
                with ModeBlock(anomaly=False):
                    node.grad = sums.total(sums.get(node), start)
                found = found or FloatingPointError(
                    f"backward with create_graph=True: the gradient of "
                    f"{node.label or 'an unlabelled value'} = {node.data!r} adds up to "
                    f"{node.grad.data!r} ({error})")
    return found


def backward(root: Value, grad: object) -> None:
    """``root.backward(grad, create_graph=True)``: every ``.grad`` a Value."""
    gradients_as_values(root, grad, write=True)


value.create_graph_pass = backward  # Value.backward reaches create_graph through this name
