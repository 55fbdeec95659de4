"""How ``backward(create_graph=True)`` adds up a gradient: term by term, written as one node.

The chain rule gives a node ``u`` the gradient ``dy/du = sum_n dn/du * dy/dn`` over the nodes
``n`` that use it. Built one term at a time, that sum is two nodes per term, a ``*`` and a
``+``. Instead, during the pass, ``u.grad`` is a :class:`Terms` list, the chain rule's
``local * g`` (``g`` an :class:`Upstream`) is the pair ``(local, dy/dn)`` that ``+=`` adds to it,
and when the pass reaches ``u`` (or ends, for a leaf) :meth:`GradientSums.total` writes the
terms as one node: a weight used by 100 samples gets one node of 100 terms, not 200 nodes.
"""

from __future__ import annotations

from engine.modes import ModeBlock
from engine.value import Value, affine_rows


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
    """A gradient being added up: ``[start, local_1, g_1, local_2, g_2, ...]``, where ``start``
    is what the grad held before (a leaf's gradients accumulate; None for nothing) and
    ``terms += (local, g)`` adds a term."""

    __slots__ = ()


_NOTHING = (None,)


class GradientSums:
    """The sums of one ``backward(create_graph=True)`` pass: every node of ``order`` (the
    walk's interior nodes) and every leaf they use gets an empty :class:`Terms`.

    Many sums share their factors: the weights of a neuron all have that neuron's upstream
    gradients, one per sample; the weights of one input all have that input's values. Each
    sequence of factors is made a tuple once and shared (as a layer's inputs are in the first
    graph), so the next backward pass walks it once; a sum with nothing before it gets the
    pass's one constant 0 as its bias.
    """

    def __init__(self, order: list[Value]) -> None:
        self.leaves: list[Value] = []
        self.zero = Value(0.0)
        self.factor = Upstream(self.zero)  # one for the pass: a term reads its g when made
        self.shared: dict[tuple, tuple] = {}
        walked = set()
        for node in order:
            node.grad = Terms(_NOTHING)
            x, y = node._x, node._y  # the stored operands (see Value)
            if type(x) is not tuple:  # one or two operands
                operands = (x,) if y is None else (x, y)
            elif node._op.operands is None:  # more, in one tuple
                operands = x
            else:  # two shared groups: each looked at once
                operands = [v for group in (x, y) if id(group) not in walked
                            and not walked.add(id(group)) for v in group]
            for v in operands:
                if v._op is None and type(v.grad) is not Terms:
                    v.grad = Terms(_NOTHING if type(v.grad) is float and v.grad == 0.0
                                   else (v.grad,))
                    self.leaves.append(v)

    def upstream(self, node: Value) -> Upstream:
        """``node``'s gradient, complete when the pass reaches it, as one node and as a factor."""
        g = node.grad
        if type(g) is Terms:
            g = node.grad = self.total(g)
        self.factor.g = g
        return self.factor

    def settle(self, order: list[Value]) -> FloatingPointError | None:
        """Write every sum left (the leaves', and the interior nodes' after an error) as a node,
        so that no ``.grad`` holds terms once the pass is over. Under ``detect_anomaly`` a sum
        that adds up to inf or nan is still written; the error naming it is returned."""
        found = None
        for node in (*self.leaves, *order):
            if type(node.grad) is Terms:
                try:
                    node.grad = self.total(node.grad)
                except FloatingPointError as error:
                    with ModeBlock(anomaly=False):
                        node.grad = self.total(node.grad)
                    found = found or FloatingPointError(
                        f"backward with create_graph=True: the gradient of "
                        f"{node.label or 'an unlabelled value'} = {node.data!r} adds up to "
                        f"{node.grad.data!r} ({error})")
        return found

    def total(self, terms: Terms) -> Value | float:
        """The gradient the terms add up to, as one node: ``g`` itself for the one term
        ``(1.0, g)``, a product for any other single term, a ``sum`` when every local derivative
        is 1.0 (a bias's gradient), else an ``affine`` node ``start + sum_k local_k g_k``."""
        start = terms[0]
        if len(terms) == 3 and start is None:  # one term
            _, local, g = terms
            return g if type(local) is float and local == 1.0 else local * g
        if len(terms) == 1:
            return 0.0 if start is None else start
        locals_, gs = terms[1::2], terms[2::2]
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
