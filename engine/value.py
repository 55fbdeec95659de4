"""``Value``: a scalar that remembers how it was computed, and the backward pass over its graph."""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter, mul

from engine.derivatives import OPS, RULES
from engine.modes import MODE, OPEN_ANOMALY_BLOCKS, RECORDING

Number = int | float

_new = object.__new__
_next_seq = itertools.count().__next__  # creation order: parents are older than their children
_seq_of = attrgetter("_seq")
_POSITIONS = [tuple(range(n)) for n in range(8)]  # operand positions: faster to loop than range


def _binary(op: str, reflected: bool = False) -> Callable[[Value, Operand], Value]:
    """The method ``self op other`` (or ``other op self``) for an operation of the table."""
    forward = OPS[op].forward

    def method(self: Value, other: Operand) -> Value:
        if type(other) is not Value:
            other = _constant(other)
            if other is NotImplemented:
                return NotImplemented  # Python then raises TypeError naming both types
        a, b = (other, self) if reflected else (self, other)
        out = _new(Value)
        out.data, out.grad, out.label, out._seq = forward(a.data, b.data), 0.0, "", _next_seq()
        if MODE.get() is RECORDING:
            out.op, out.parents = op, (a, b)
        else:
            _record_in_mode(out, op, (a, b))
        return out

    return method


def _unary(op: str, doc: str) -> Callable[[Value], Value]:
    """The method ``self.op()`` for a one-operand operation of the table."""
    forward = OPS[op].forward

    def method(self: Value) -> Value:
        out = _new(Value)
        out.data, out.grad, out.label, out._seq = forward(self.data), 0.0, "", _next_seq()
        if MODE.get() is RECORDING:
            out.op, out.parents = op, (self,)
        else:
            _record_in_mode(out, op, (self,))
        return out

    method.__name__ = method.__qualname__ = op
    method.__doc__ = doc
    return method


class Value:
    """A scalar in a computation graph.

    ``data`` is the number, ``grad`` is d(root)/d(self) after ``root.backward()``, ``label`` names
    it in drawings and messages, ``op`` is the operation that made it (``""`` for a leaf) and
    ``parents`` are that operation's operands, in order (``a * a`` has two).
    """

    __slots__ = ("data", "grad", "label", "op", "parents", "_seq")
    __array_ufunc__ = None  # NumPy scalars return NotImplemented, so Value's reflected op runs

    def __init__(self, data: Number, label: str = "") -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, not {type(label).__name__}")
        self.data = _real(data)
        self.grad = 0.0
        self.label = label
        self.op = ""
        self.parents: tuple[Value, ...] = ()
        self._seq = _next_seq()

    def __getstate__(self) -> tuple:
        return self.data, self.grad, self.label, self.op, self.parents

    def __setstate__(self, state: tuple) -> None:
        """Unpickled or copied nodes get a new creation number, in this process's count (the
        parents are restored first), so creation order stays a topological order."""
        self.data, self.grad, self.label, self.op, self.parents = state
        self._seq = _next_seq()

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        op = f", op={self.op!r}" if self.op else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label}{op})"

    # -- operations: each names its entry in the table of engine.derivatives ----------------------
    __add__, __radd__ = _binary("+"), _binary("+", reflected=True)
    __sub__, __rsub__ = _binary("-"), _binary("-", reflected=True)
    __mul__, __rmul__ = _binary("*"), _binary("*", reflected=True)
    __truediv__, __rtruediv__ = _binary("/"), _binary("/", reflected=True)
    __rpow__ = _binary("pow", reflected=True)
    _pow_number, _pow_value = _binary("**"), _binary("pow")

    def __pow__(self, exponent: Operand) -> Value:
        """``self ** exponent``; a number exponent is a constant, a Value exponent gets a grad."""
        return (self._pow_value if type(exponent) is Value else self._pow_number)(exponent)

    __neg__ = _unary("neg", "-x")
    __abs__ = _unary("abs", "|x|, with the subgradient 0 at 0")
    exp = _unary("exp", "e ** x (inf beyond about 709.78)")
    log = _unary("log", "Natural log: -inf at 0, nan below 0")
    sqrt = _unary("sqrt", "Square root: nan below 0; its derivative is inf at 0")
    tanh = _unary("tanh", "Hyperbolic tangent, stable for any x")
    sigmoid = _unary("sigmoid", "1 / (1 + e ** -x), computed without overflow for any x")
    relu = _unary("relu", "max(x, 0), with the subgradient 0 at 0")
    _leaky_relu = _binary("leaky_relu")

    def leaky_relu(self, slope: float = 0.01) -> Value:
        """x if x > 0 else slope * x; the slope is a constant (its derivative is slope at 0)."""
        return self._leaky_relu(_real(slope, "leaky_relu's slope"))

    # -- comparisons and truth compare data, as for numbers; == stays identity (Values are hashed)
    def __lt__(self, other: Operand) -> bool: return self.data < _data(other)
    def __le__(self, other: Operand) -> bool: return self.data <= _data(other)
    def __gt__(self, other: Operand) -> bool: return self.data > _data(other)
    def __ge__(self, other: Operand) -> bool: return self.data >= _data(other)
    def __bool__(self) -> bool: return self.data != 0

    # -- n-ary operations: one node, many parents ------------------------------------------------
    @staticmethod
    def sum(values: Iterable[Operand]) -> Value:
        """The sum of ``values`` as one node with N parents (Python's ``sum()`` makes N nodes)."""
        return apply("sum", *values)

    @staticmethod
    def affine(weights: Sequence[Operand], inputs: Sequence[Operand], bias: Operand) -> Value:
        """``w . x + b`` as one node: a neuron's pre-activation ``z``.

        Its local derivatives are ``dz/dw_i = x_i``, ``dz/dx_i = w_i`` and ``dz/db = 1``.
        """
        n = len(weights)
        if len(inputs) != n:
            raise ValueError(f"affine needs as many weights as inputs, got {n} weights and "
                             f"{len(inputs)} inputs")
        parents = (*weights, *inputs, bias)
        data = [p.data for p in parents if type(p) is Value]  # checks and reads in one pass
        if len(data) != len(parents):  # numbers among the operands: the general path
            return apply("affine", *parents)
        out = _new(Value)
        out.data, out.grad, out.label, out._seq = (
            sum(map(mul, data[:n], data[n:-1]), data[-1]), 0.0, "", _next_seq())
        if MODE.get() is RECORDING:
            out.op, out.parents = "affine", parents
        else:
            _record_in_mode(out, "affine", parents)
        return out

    @staticmethod
    def affine_layer(weights: Sequence[Sequence[Value]], inputs: Sequence[Value],
                     biases: Sequence[Value], activation: str | None = None) -> list[Value]:
        """``W x + b``: one ``affine`` node per row of ``weights``, a layer's ``z``.

        The same nodes as ``[Value.affine(w, inputs, b) for w, b in zip(weights, biases)]``,
        built faster: the inputs are checked and read once for all the rows. With
        ``activation``, the name of a one-operand operation of the table (``"tanh"``,
        ``"sigmoid"``, ``"relu"``, ...), each ``z`` is followed by its node ``a = s(z)`` and the
        ``a`` are returned (``z`` is ``a.parents[0]``).
        """
        if len(weights) != len(biases):
            raise ValueError(f"affine_layer needs one bias per row, got {len(weights)} rows and "
                             f"{len(biases)} biases")
        if activation is None:
            s = None
        elif activation in OPS and OPS[activation].arity == 1:
            s = OPS[activation].forward
        else:
            raise ValueError(f"affine_layer's activation must name a one-operand operation, "
                             f"got {activation!r}")
        inputs = tuple(inputs)
        n = len(inputs)
        x = [v.data for v in inputs if type(v) is Value]  # checks and reads in one pass
        record = MODE.get() is RECORDING
        out = []
        for row, bias in zip(weights, biases, strict=True):
            w = [p.data for p in row if type(p) is Value]
            if len(w) != n or len(row) != n or len(x) != n or type(bias) is not Value:
                z = Value.affine(row, inputs, bias)  # numbers to lift, or the error
                out.append(z if s is None else apply(activation, z))
                continue
            z = _new(Value)
            z.data, z.grad, z.label, z._seq = sum(map(mul, w, x), bias.data), 0.0, "", _next_seq()
            if record:
                z.op, z.parents = "affine", (*row, *inputs, bias)
            else:
                _record_in_mode(z, "affine", (*row, *inputs, bias))
            if s is not None:  # the activation node, built here: one call less per neuron
                a = _new(Value)
                a.data, a.grad, a.label, a._seq = s(z.data), 0.0, "", _next_seq()
                if record:
                    a.op, a.parents = activation, (z,)
                else:
                    _record_in_mode(a, activation, (z,))
                z = a
            out.append(z)
        return out

    # -- the backward pass ------------------------------------------------------------------------
    def backward(self, grad: Number = 1.0) -> None:
        """Compute d(self)/d(u) into ``u.grad`` for every ancestor ``u`` of this node.

        Leaf gradients accumulate across calls (call ``zero_grad`` between steps, as in PyTorch);
        the nodes in between get this pass's gradient, so two calls give exactly twice the leaf
        gradients. No recursion: graphs of any depth work.
        """
        if type(grad) is not float:
            grad = _real(grad, "backward's grad")
        if not self.parents:
            self.grad += grad
            return
        nodes = _walk(self, reset=True)
        self.grad = grad
        anomaly = OPEN_ANOMALY_BLOCKS[0] and MODE.get().anomaly
        rules = RULES
        for node in nodes:  # each node after all the nodes that use it: its grad is complete
            parents, g, rule = node.parents, node.grad, rules[node.op]
            n = len(parents)  # a rule takes the operands' values and the output's value
            if type(rule) is tuple:  # constant local derivatives (+, -, neg)
                local = rule
            elif n == 2:
                local = rule(parents[0].data, parents[1].data, node.data)
            elif n == 1:
                local = rule(parents[0].data, node.data)
            else:
                local = rule(*[p.data for p in parents], node.data)
            for i in _POSITIONS[n] if n < 8 else range(n):
                parents[i].grad += local[i] * g  # the chain rule: local derivative x upstream grad
            if anomaly:
                _check_backward_step(node, local)

    def zero_grad(self) -> None:
        """Set the gradient of this node and of all its ancestors to 0."""
        for node in ancestors(self):
            node.grad = 0.0


Operand = Value | int | float  # a number operand becomes a constant leaf

# -- building nodes -------------------------------------------------------------------------------


def _real(x: object, what: str = "Value data") -> float:
    if type(x) is float:
        return x
    if isinstance(x, numbers.Real) and not isinstance(x, Value):
        return float(x)
    raise TypeError(f"{what} must be a real number (int, float, bool or a NumPy real scalar), "
                    f"not {type(x).__name__}: {x!r:.80}")


def _data(x: Operand) -> float:
    return x.data if type(x) is Value else _real(x, "what a Value is compared with")


def _constant(x: object) -> Value:
    """A number operand (the 2 of ``x * 2``) as a leaf; NotImplemented for anything else."""
    if type(x) is not float and not isinstance(x, numbers.Real):
        return NotImplemented
    out = _new(Value)
    out.data, out.grad, out.label, out.op, out.parents, out._seq = (
        float(x), 0.0, "", "", (), _next_seq())
    return out


def _record_in_mode(out: Value, op: str, parents: tuple[Value, ...]) -> None:
    """Finish a new node under no_grad (a leaf) or detect_anomaly (check the result)."""
    mode = MODE.get()
    if mode.anomaly and not math.isfinite(out.data):
        raise FloatingPointError(f"{op} produced {out.data} from {_describe(parents)}")
    out.op, out.parents = (op, parents) if mode.record else ("", ())


def apply(op: str, *operands: Operand) -> Value:
    """A node of any operation in the table, by name: ``apply("tanh", x)``, ``apply("sum", *xs)``.

    Numbers among the operands become constant leaves. User-registered operations
    (``engine.derivatives.register``) are built this way.
    """
    entry = OPS.get(op)
    if entry is None:
        raise ValueError(f"unknown operation {op!r}; known: {', '.join(OPS)}")
    if entry.arity is not None and len(operands) != entry.arity:
        raise TypeError(f"{op} takes {entry.arity} operands, got {len(operands)}")
    if not operands:
        return Value(entry.forward())  # e.g. the empty sum, 0.0
    data = [x.data for x in operands if type(x) is Value]  # checks and reads in one pass
    if len(data) != len(operands):  # some operands are numbers (or not numbers at all)
        operands = tuple(x if type(x) is Value else _constant(_real(x, f"an operand of {op}"))
                         for x in operands)
        data = [x.data for x in operands]
    out = _new(Value)
    out.data, out.grad, out.label, out._seq = entry.forward(*data), 0.0, "", _next_seq()
    _record_in_mode(out, op, operands)
    return out


# -- graph traversal (iterative: a graph may be a million nodes deep) ----------------------------


def backward_order(root: Value) -> list[Value]:
    """The non-leaf ancestors of ``root`` (itself included) in the order ``backward`` visits them:
    each node after all the nodes that use it, so its gradient is complete when it is reached.

    Breadth-first discovery order is already such an order when no interior node is reached twice
    (a tree); otherwise sort newest first: creation order is a topological order, because a
    node's parents exist before it. Leaves are left out: they only receive gradients.
    """
    return _walk(root, reset=False)


def _walk(root: Value, reset: bool) -> list[Value]:
    """``backward_order``; with ``reset``, also zero each node's grad on the way (for backward:
    interior nodes receive this pass's gradient only; one walk is cheaper than two)."""
    nodes = [root]
    seen = {root}
    shared = False
    for node in nodes:  # the list grows while we walk it: a queue without pops
        for parent in node.parents:
            if parent.parents:
                if parent in seen:
                    shared = True
                else:
                    seen.add(parent)
                    nodes.append(parent)
                    if reset:
                        parent.grad = 0.0
    if shared:
        nodes.sort(key=_seq_of, reverse=True)
    return nodes


def ancestors(root: Value) -> list[Value]:
    """``root`` and every Value it was computed from, oldest first (a topological order)."""
    seen = {root}
    stack = [root]
    while stack:
        for parent in stack.pop().parents:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=_seq_of)


def _describe(values: Iterable[Value]) -> str:
    return ", ".join(f"{v.label or 'an unlabelled value'} = {v.data!r}" for v in values)


def _check_backward_step(node: Value, local: tuple) -> None:
    g = node.grad
    for parent, d in zip(node.parents, local, strict=True):
        if not math.isfinite(d * g):
            raise FloatingPointError(
                f"backward through {node.op} (output {node.label or 'unlabelled'} = {node.data!r}, "
                f"grad {g!r}) gave the gradient {d * g!r} to {parent.label or 'an operand'} = "
                f"{parent.data!r} (local derivative {d!r}); operands: {_describe(node.parents)}")
