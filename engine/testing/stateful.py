"""``GraphMachine``: a hypothesis state machine for the engine, with a forward-mode reference.

It grows a graph one node at a time (any earlier node may be reused, so diamonds appear), runs
``backward`` from any node with any seed, calls ``zero_grad`` from any node, and changes a leaf's
data (after which the graph is rebuilt on the same leaves, as a training step does). After every
step each node's ``data`` and ``grad`` are compared with a reference that shares no code with the
engine: dual numbers (forward mode) with derivative formulas written out here.

What the engine must do, as the reference models it:

- ``r.backward(seed)``: every interior ancestor ``u`` of ``r`` holds ``seed * dr/du`` (this
  pass's gradient only), ``r`` holds ``seed``, and every leaf ancestor *adds* ``seed * dr/du``;
- ``r.zero_grad()``: ``r`` and all its ancestors hold 0;
- nodes that are not ancestors keep their gradient.

Use it in a test module as ``TestGraph = GraphMachine.TestCase``. Needs hypothesis:
``pip install "deltagrad[strategies]"``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import NamedTuple

try:
    from hypothesis import strategies as st
    from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("engine.stateful needs hypothesis: pip install \"deltagrad[strategies]\" "
                      "(or pip install hypothesis)") from error

from engine.derivatives import NONZERO, OPS
from engine.testing.strategies import finite_floats
from engine.value import Value

__all__ = ["OPERATIONS", "Dual", "GraphMachine"]


class Dual(NamedTuple):
    """A number and its derivative along one direction: ``value + tangent * eps``, eps² = 0."""

    value: float
    tangent: float


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _tanh(a: Dual) -> Dual:
    t = math.tanh(a.value)
    return Dual(t, (1.0 - t * t) * a.tangent)


def _sigmoid_dual(a: Dual) -> Dual:
    s = _sigmoid(a.value)
    return Dual(s, s * (1.0 - s) * a.tangent)


def _exp(a: Dual) -> Dual:
    e = math.exp(a.value) if a.value < 700 else math.inf
    return Dual(e, e * a.tangent)


def _div(a: Dual, b: Dual) -> Dual:
    return Dual(a.value / b.value, (a.tangent * b.value - a.value * b.tangent) / b.value ** 2)


def _relu(a: Dual) -> Dual:  # the subgradient 0 at 0, as PyTorch
    return Dual(a.value, a.tangent) if a.value > 0 else Dual(0.0, 0.0)


def _abs(a: Dual) -> Dual:  # the subgradient 0 at 0, as PyTorch
    sign = 1.0 if a.value > 0 else -1.0 if a.value < 0 else 0.0
    return Dual(abs(a.value), sign * a.tangent)


class Operation(NamedTuple):
    arity: int
    build: Callable[..., Value]  # the engine, as users call it
    reference: Callable[..., Dual]  # the same function on dual numbers, derived by hand
    entry: str  # the name in engine.derivatives.OPS of the node that build makes


OPERATIONS: dict[str, Operation] = {
    "+": Operation(2, operator.add, lambda a, b: Dual(a.value + b.value, a.tangent + b.tangent),
                   "+"),
    "-": Operation(2, operator.sub, lambda a, b: Dual(a.value - b.value, a.tangent - b.tangent),
                   "-"),
    "*": Operation(2, operator.mul, lambda a, b: Dual(a.value * b.value,
                                                      a.tangent * b.value + a.value * b.tangent),
                   "*"),
    "/": Operation(2, operator.truediv, _div, "/"),
    "neg": Operation(1, operator.neg, lambda a: Dual(-a.value, -a.tangent), "neg"),
    "square": Operation(1, lambda a: a ** 2, lambda a: Dual(a.value ** 2, 2 * a.value * a.tangent),
                        "**"),
    "tanh": Operation(1, Value.tanh, _tanh, "tanh"),
    "sigmoid": Operation(1, Value.sigmoid, _sigmoid_dual, "sigmoid"),
    "exp": Operation(1, Value.exp, _exp, "exp"),
    "relu": Operation(1, Value.relu, _relu, "relu"),
    "abs": Operation(1, abs, _abs, "abs"),
    "sum3": Operation(3, lambda a, b, c: Value.sum([a, b, c]),
                      lambda a, b, c: Dual(a.value + b.value + c.value,
                                           a.tangent + b.tangent + c.tangent), "sum"),
}
"""The operations the machine combines nodes with: name -> (arity, engine, reference, entry).
The references are the machine's own oracle; only where an op is defined comes from its entry."""

MAX_MAGNITUDE = 1e4  # a node whose value would be larger (or not finite) is not added
MIN_DIVISOR = 0.1  # nor a node with an operand its op needs nonzero (a divisor) closer to 0


class Node(NamedTuple):
    op: str  # "" for a leaf
    operands: tuple[int, ...]  # indices of earlier nodes


class GraphMachine(RuleBasedStateMachine):
    """Grow, differentiate, zero and change a graph; compare every node with dual numbers."""

    def __init__(self) -> None:
        super().__init__()
        self.recipe: list[Node] = []
        self.values: list[Value] = []  # the engine's nodes, parallel to recipe
        self.expected_grads: list[float] = []

    # -- growing --------------------------------------------------------------------------------
    @initialize(xs=st.lists(finite_floats(), min_size=1, max_size=3))
    def start(self, xs: list[float]) -> None:
        for x in xs:
            self.add_leaf(x)

    @rule(x=finite_floats())
    def add_leaf(self, x: float) -> None:
        self.recipe.append(Node("", ()))
        self.values.append(Value(x, label=f"v{len(self.values)}"))
        self.expected_grads.append(0.0)

    @rule(op=st.sampled_from(sorted(OPERATIONS)), data=st.data())
    def combine(self, op: str, data: st.DataObject) -> None:
        """A new node from any existing nodes (the same one may be used twice)."""
        picks = st.integers(0, len(self.values) - 1)
        operands = tuple(data.draw(picks, label=f"operand {j}")
                         for j in range(OPERATIONS[op].arity))
        self._add_node(op, operands)

    @rule(inner=st.sampled_from(sorted(n for n, o in OPERATIONS.items() if o.arity == 1)),
          outer=st.sampled_from(["+", "*", "-"]), data=st.data())
    def diamond(self, inner: str, outer: str, data: st.DataObject) -> None:
        """``outer(a, inner(a))``: ``a`` reached by paths of two lengths, where order matters."""
        a = data.draw(st.integers(0, len(self.values) - 1), label="shared node")
        before = len(self.values)
        self._add_node(inner, (a,))
        if len(self.values) > before:
            self._add_node(outer, (a, len(self.values) - 1))

    def _add_node(self, op: str, operands: tuple[int, ...]) -> None:
        node = Node(op, operands)
        if not self._well_behaved(node, [v.data for v in self.values]):
            return
        self.values.append(self._build(node, len(self.values)))
        self.recipe.append(node)
        self.expected_grads.append(0.0)

    # -- differentiating ------------------------------------------------------------------------
    @rule(data=st.data(), seed=st.sampled_from([1.0, -0.5, 2.5]))
    def backward(self, data: st.DataObject, seed: float) -> None:
        last = len(self.values) - 1
        r = data.draw(st.one_of(st.just(last), st.integers(0, last)), label="backward from")
        self.values[r].backward(seed)
        if not self.recipe[r].operands:
            self.expected_grads[r] += seed
            return
        for u in self._ancestors(r):
            d = seed * self._derivative(r, u)
            if u == r:
                self.expected_grads[u] = seed
            elif self.recipe[u].operands:
                self.expected_grads[u] = d  # interior: this pass's gradient only
            else:
                self.expected_grads[u] += d  # leaves accumulate

    @rule(data=st.data())
    def zero_grad(self, data: st.DataObject) -> None:
        r = data.draw(st.integers(0, len(self.values) - 1), label="zero_grad from")
        self.values[r].zero_grad()
        for u in self._ancestors(r):
            self.expected_grads[u] = 0.0

    @rule(data=st.data(), x=finite_floats())
    def set_data(self, data: st.DataObject, x: float) -> None:
        """Change a leaf's data and rebuild the graph on the same leaves (a training step)."""
        leaves = [k for k, node in enumerate(self.recipe) if not node.operands]
        k = leaves[data.draw(st.integers(0, len(leaves) - 1), label="leaf")]
        numbers = [v.data for v in self.values]
        numbers[k] = x
        for j, node in enumerate(self.recipe):
            if node.operands:
                if not self._well_behaved(node, numbers):
                    return  # the new value would make a node misbehave: keep the old one
                numbers[j] = self._reference(node, [Dual(n, 0.0) for n in numbers]).value
        self.values[k].data = x
        for j, node in enumerate(self.recipe):
            if node.operands:
                self.values[j] = self._build(node, j)
                self.expected_grads[j] = 0.0

    # -- checking -------------------------------------------------------------------------------
    @invariant()
    def every_node_matches_the_reference(self) -> None:
        duals: list[Dual] = []
        for k, node in enumerate(self.recipe):
            duals.append(Dual(self.values[k].data, 0.0) if not node.operands
                         else self._reference(node, duals))
        for k, (value, dual, grad) in enumerate(zip(self.values, duals, self.expected_grads,
                                                    strict=True)):
            assert _close(value.data, dual.value, 1e-12), (
                f"{value.label} = {self._text(k)}: data {value.data!r}, reference {dual.value!r}")
            assert _close(value.grad, grad, 1e-9), (
                f"{value.label} = {self._text(k)}: grad {value.grad!r}, reference {grad!r}")

    # -- the reference ----------------------------------------------------------------------------
    def _reference(self, node: Node, duals: list[Dual]) -> Dual:
        return OPERATIONS[node.op].reference(*[duals[i] for i in node.operands])

    def _derivative(self, r: int, u: int) -> float:
        """d(node r)/d(node u), node u's own inputs held fixed: forward mode seeded at u."""
        duals: list[Dual] = []
        for k, node in enumerate(self.recipe[: r + 1]):
            if k == u:
                duals.append(Dual(self.values[k].data, 1.0))
            elif not node.operands:
                duals.append(Dual(self.values[k].data, 0.0))
            else:
                duals.append(self._reference(node, duals))
        return duals[r].tangent

    def _ancestors(self, r: int) -> set[int]:
        found, stack = {r}, [r]
        while stack:
            for i in self.recipe[stack.pop()].operands:
                if i not in found:
                    found.add(i)
                    stack.append(i)
        return found

    def _well_behaved(self, node: Node, numbers: list[float]) -> bool:
        domain = OPS[OPERATIONS[node.op].entry].domain
        if any(j < len(domain) and domain[j] == NONZERO and abs(numbers[i]) < MIN_DIVISOR
               for j, i in enumerate(node.operands)):
            return False
        value = self._reference(node, [Dual(n, 0.0) for n in numbers]).value
        return math.isfinite(value) and abs(value) <= MAX_MAGNITUDE

    def _build(self, node: Node, k: int) -> Value:
        operation = OPERATIONS[node.op]
        out = operation.build(*[self.values[i] for i in node.operands])
        assert out.op == operation.entry, (  # the entry whose domain _well_behaved read
            f"{node.op} built a {out.op!r} node, not {operation.entry!r}: fix OPERATIONS")
        out.label = f"v{k}"
        return out

    def _text(self, k: int) -> str:
        node = self.recipe[k]
        if not node.operands:
            return "a leaf"
        return f"{node.op}({', '.join(self.values[i].label for i in node.operands)})"


def _close(actual: float, expected: float, rel: float) -> bool:
    return actual == expected or abs(actual - expected) <= rel * max(1.0, abs(expected))
