"""``Value``: a scalar that remembers how it was computed, and the backward pass over its graph."""

from __future__ import annotations

import itertools
import math
import numbers
import sys
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter

from engine.derivatives import OPS, RULES, affine_local, affine_width
from engine.modes import MODE, OPEN_ANOMALY_BLOCKS, RECORDING

Number = int | float

_new = object.__new__
_next_seq = itertools.count().__next__  # creation order: parents are older than their children
_seq_of = attrgetter("_seq")
_POSITIONS = [tuple(range(n)) for n in range(65)]  # operand positions: faster to loop than range
_MANY = len(_POSITIONS)  # from this many operands on, loop over range()
_NOTHING_WALKED = frozenset()  # a walk without affine nodes makes no set for them


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
            out.op, out._parents = op, (a, b)
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
            out.op, out._parents = op, (self,)
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

    An ``affine`` node (a neuron's ``z``) stores its operands as two tuples, its neuron's
    ``(w_1, ..., w_n, b)`` and its inputs ``(x_1, ..., x_n)``, which it shares with the other
    nodes of its layer: the graph of a layer holds its inputs once, not once per neuron, and the
    backward pass walks them once. ``parents`` spells them out as ``(w_1..w_n, x_1..x_n, b)``.
    """

    __slots__ = ("data", "grad", "label", "op", "_parents", "_seq")
    __array_ufunc__ = None  # NumPy scalars return NotImplemented, so Value's reflected op runs

    def __init__(self, data: Number, label: str = "") -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, not {type(label).__name__}")
        self.data = _real(data)
        self.grad = 0.0
        self.label = label
        self.op = ""
        self._parents: tuple = ()
        self._seq = _next_seq()

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands of the operation that made this node, in order; ``()`` for a leaf."""
        return _spelled_out(self.op, self._parents)

    def __getstate__(self) -> tuple:
        return self.data, self.grad, self.label, self.op, self._parents

    def __setstate__(self, state: tuple) -> None:
        """Unpickled or copied nodes get a new creation number, in this process's count (the
        parents are restored first), so creation order stays a topological order."""
        self.data, self.grad, self.label, self.op, self._parents = state
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
        if len(inputs) != len(weights):
            raise ValueError(f"affine needs as many weights as inputs, got {len(weights)} "
                             f"weights and {len(inputs)} inputs")
        row = (*weights, bias)
        if {*map(type, row), *map(type, inputs)} == _VALUE_ONLY:
            return affine_rows((row,), inputs)[0]
        return apply("affine", *weights, *inputs, bias)  # numbers to lift, or the error

    @staticmethod
    def affine_layer(weights: Sequence[Sequence[Operand]], inputs: Sequence[Operand],
                     biases: Sequence[Operand], activation: str | None = None) -> list[Value]:
        """``W x + b``: one ``affine`` node per row of ``weights``, a layer's ``z``.

        The same nodes as ``[Value.affine(w, inputs, b) for w, b in zip(weights, biases)]``,
        built faster. With ``activation``, the name of a one-operand operation of the table
        (``"tanh"``, ``"sigmoid"``, ``"relu"``, ...), each ``z`` is followed by its node
        ``a = s(z)`` and the ``a`` are returned (``z`` is ``a.parents[0]``).
        """
        if len(weights) != len(biases):
            raise ValueError(f"affine_layer needs one bias per row, got {len(weights)} rows and "
                             f"{len(biases)} biases")
        if activation is not None and (activation not in OPS or OPS[activation].arity != 1):
            raise ValueError(f"affine_layer's activation must name a one-operand operation, "
                             f"got {activation!r}")
        inputs = tuple(inputs)
        n = len(inputs)
        rows = [(*row, bias) for row, bias in zip(weights, biases, strict=True)]
        if ({*map(type, inputs)} <= _VALUE_ONLY
                and all(len(row) == n + 1 and {*map(type, row)} == _VALUE_ONLY for row in rows)):
            return affine_rows(rows, inputs, activation)
        zs = [Value.affine(row, inputs, bias) for row, bias in zip(weights, biases, strict=True)]
        return zs if activation is None else [apply(activation, z) for z in zs]

    # -- the backward pass ------------------------------------------------------------------------
    def backward(self, grad: Number = 1.0) -> None:
        """Compute d(self)/d(u) into ``u.grad`` for every ancestor ``u`` of this node.

        A walk lists the interior nodes, each after all the nodes that use it, and resets their
        grads; then the chain rule, ``parent.grad += local derivative * node.grad``, runs node by
        node (``_chain_rule``; under ``detect_anomaly``, ``_chain_rule_checked``, its plain form,
        which checks every step). No recursion: graphs of any depth work.

        Leaf gradients accumulate across calls (call ``zero_grad`` between steps, as in PyTorch);
        the nodes in between get this pass's gradient, so two calls give twice the leaf gradients
        (up to rounding).
        """
        if type(grad) is not float:
            grad = _real(grad, "backward's grad")
        if not self._parents:
            self.grad += grad
            return
        nodes = _walk(self)
        self.grad = grad
        try:
            if OPEN_ANOMALY_BLOCKS[0] and MODE.get().anomaly:
                _chain_rule_checked(nodes)
            else:
                _chain_rule(nodes)
        except (TypeError, ValueError) as error:
            _refuse_miscounting_rules(nodes, error)  # clearer if a rule gave too few or too many
            raise

    def zero_grad(self) -> None:
        """Set the gradient of this node and of all its ancestors to 0."""
        for node in ancestors(self):
            node.grad = 0.0


Operand = Value | int | float  # a number operand becomes a constant leaf
_VALUE_ONLY = {Value}

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
    out.data, out.grad, out.label, out.op, out._parents, out._seq = (
        float(x), 0.0, "", "", (), _next_seq())
    return out


def _record_in_mode(out: Value, op: str, parents: tuple) -> None:
    """Finish a new node under no_grad (a leaf) or detect_anomaly (check the result)."""
    mode = MODE.get()
    if mode.anomaly and not math.isfinite(out.data):
        raise FloatingPointError(
            f"{op} produced {out.data} from {_describe(_spelled_out(op, parents))}")
    out.op, out._parents = (op, parents) if mode.record else ("", ())


def _spelled_out(op: str, parents: tuple) -> tuple[Value, ...]:
    """A node's operands from what it stores: an affine node keeps ``(w_1..w_n, b)`` and
    ``(x_1..x_n)`` and its operands are ``(w_1..w_n, x_1..x_n, b)``."""
    if op == "affine":
        row, inputs = parents
        return (*row[:-1], *inputs, row[-1])
    return parents


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
    if op == "affine":  # stored as shared tuples (see Value): built as a layer's nodes are
        n = affine_width(len(operands))
        return affine_rows(((*operands[:n], operands[-1]),), operands[n:-1])[0]
    out = _new(Value)
    out.data, out.grad, out.label, out._seq = entry.forward(*data), 0.0, "", _next_seq()
    _record_in_mode(out, op, operands)
    return out


def affine_rows(rows: Sequence[tuple[Value, ...]], inputs: Sequence[Value],
                activation: str | None = None) -> list[Value]:
    """One ``affine`` node ``z = w . x + b`` per row ``(w_1, ..., w_n, b)`` of ``rows`` (tuples),
    all on the same ``inputs``; with ``activation`` (a one-operand operation), each followed by
    its node ``a = s(z)``, and the ``a`` returned.

    ``Value.affine_layer`` without its checks, for callers that guarantee them (``nn.Layer``):
    every weight, bias and input a Value, each row one longer than ``inputs``. A neuron's forward
    pass is the hot spot of training, so its nodes are built inline (one store per slot is the
    fastest way). Each node stores its row and the inputs tuple, shared with the layer's nodes.
    """
    inputs = tuple(inputs)
    x = [v.data for v in inputs]
    positions = _POSITIONS[len(x)] if len(x) < _MANY else range(len(x))
    s = None if activation is None else OPS[activation].forward
    record = MODE.get() is RECORDING
    out = []
    for row in rows:
        total = row[-1].data  # z = b + w_1 x_1 + ... + w_n x_n, added in this order
        for i in positions:
            total += row[i].data * x[i]
        z = _new(Value)
        z.data = total
        z.grad = 0.0
        z.label = ""
        z._seq = _next_seq()
        if record:
            z.op, z._parents = "affine", (row, inputs)
        else:
            _record_in_mode(z, "affine", (row, inputs))
        if s is not None:  # the activation node a = s(z)
            a = _new(Value)
            a.data = s(total)
            a.grad = 0.0
            a.label = ""
            a._seq = _next_seq()
            if record:
                a.op, a._parents = activation, (z,)
            else:
                _record_in_mode(a, activation, (z,))
            z = a
        out.append(z)
    return out


# -- graph traversal (iterative: a graph may be a million nodes deep) ----------------------------


def backward_order(root: Value) -> list[Value]:
    """The non-leaf ancestors of ``root`` (itself included) in the order ``backward`` visits them:
    each node after all the nodes that use it, so its gradient is complete when it is reached.

    Breadth-first discovery order is already such an order when no interior node is reached twice
    (a tree); otherwise sort newest first: creation order is a topological order, because a
    node's parents exist before it. Leaves are left out: they only receive gradients. This runs
    the walk of ``backward`` itself, then puts back the gradients that the walk sets to 0 (do
    not run it while another thread runs ``backward`` on the same graph).
    """
    if not root._parents:
        return []
    saved = [(node, node.grad) for node in ancestors(root) if node._parents]
    try:
        return _walk(root)
    finally:
        for node, grad in saved:
            node.grad = grad


class _PassZero(float):
    """A float 0 that is always a new object, even where ``is`` compares floats by value
    (PyPy). On CPython ``float(0)`` is one already, and cheaper to make."""

    __slots__ = ()


_new_zero = float if sys.implementation.name == "cpython" else _PassZero


def _walk(root: Value) -> list[Value]:
    """``backward_order(root)``, setting the grad of each node found to 0 on the way: interior
    nodes receive this pass's gradient only.

    The 0 is an object made for this walk, so ``grad is zero`` also says that a node was found
    already: no set of nodes to fill and search. (Every node found is an operand of a node the
    backward pass visits, so its first ``+=`` replaces the mark by a plain float.)
    """
    zero = _new_zero(0)  # a new object: this walk's zero
    nodes = [root]
    walked = _NOTHING_WALKED  # the ids of the tuples that affine nodes store (made when needed)
    shared = False
    for node in nodes:  # the list grows while we walk it: a queue without pops
        parents = node._parents
        if node.op == "affine":  # its row and inputs are shared with other nodes: walk each once
            if walked is _NOTHING_WALKED:
                walked = set()
            row, inputs = parents
            parents = ()
            if id(row) in walked:
                shared = True
            else:
                walked.add(id(row))
                parents = row
            if id(inputs) in walked:
                shared = True
            else:
                walked.add(id(inputs))
                parents = (*parents, *inputs)
        for parent in parents:
            if parent._parents:
                if parent.grad is zero:
                    shared = True
                else:
                    parent.grad = zero
                    nodes.append(parent)
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


def _chain_rule(nodes: list[Value]) -> None:
    """``parent.grad += local derivative * node.grad`` for every operand of every node, in order.

    The line is written out for two operands, one, any number, and for a neuron's ``affine``
    node, whose local derivatives are its own operands (a neuron of 16 inputs has 33): Python
    runs a written-out line faster than a loop over positions, and these nodes are most of the
    work of a training step. ``_chain_rule_checked`` is the same loop in one plain spelling.
    """
    rules = RULES
    for node in nodes:  # each node after all the nodes that use it: its grad is complete
        parents, g, rule = node._parents, node.grad, rules[node.op]
        if node.op == "affine":  # stored as (w_1..w_n, b) and (x_1..x_n): see Value
            if rule is affine_local:  # dz/dw_i = x_i, dz/dx_i = w_i, dz/db = 1
                row, inputs = parents
                n = len(inputs)
                positions = _POSITIONS[n] if n < _MANY else range(n)
                for i in positions:  # weights, then inputs, then b: the operands' order
                    row[i].grad += inputs[i].data * g
                for i in positions:
                    inputs[i].grad += row[i].data * g
                row[-1].grad += g
                continue
            parents = _spelled_out("affine", parents)  # a rule put in the table by hand
        n = len(parents)  # a rule takes the operands' values and the output's value
        if n == 2:
            x, y = parents
            dx, dy = rule if type(rule) is tuple else rule(x.data, y.data, node.data)
            x.grad += dx * g  # the chain rule: local derivative x upstream gradient
            y.grad += dy * g
        elif n == 1:
            (x,) = parents
            (dx,) = rule if type(rule) is tuple else rule(x.data, node.data)
            x.grad += dx * g
        else:
            local = rule if type(rule) is tuple else rule(*[p.data for p in parents], node.data)
            for parent, d in zip(parents, local, strict=True):
                parent.grad += d * g


def _chain_rule_checked(nodes: list[Value]) -> None:
    """``_chain_rule`` in its plainest spelling, each step checked (under ``detect_anomaly``)."""
    for node in nodes:
        parents, g, rule = node.parents, node.grad, RULES[node.op]
        local = rule if type(rule) is tuple else rule(*[p.data for p in parents], node.data)
        for parent, d in zip(parents, local, strict=True):
            parent.grad += d * g  # the chain rule: local derivative x upstream grad
        _check_backward_step(node, local)


def _refuse_miscounting_rules(nodes: list[Value], error: Exception) -> None:
    """Raise an error naming the first node whose rule does not give a tuple of one local
    derivative per operand (a user-registered rule, most likely), caused by ``error``; return
    if every rule counts right, or one raises (``error`` is then the one to see)."""
    for node in nodes:
        parents, rule = node.parents, RULES.get(node.op)
        try:
            local = rule if type(rule) is tuple else rule(*[p.data for p in parents], node.data)
        except Exception:
            return
        at = (f"at the node {node.label or 'unlabelled'} = {node.data!r} with operands "
              f"{_describe(parents)}")
        if not isinstance(local, tuple | list):
            raise TypeError(f"the local-derivative rule of {node.op!r} must return a tuple, one "
                            f"derivative per operand, not {type(local).__name__} {local!r:.40}; "
                            f"{at}") from error
        if len(local) != len(parents):
            raise ValueError(f"the local-derivative rule of {node.op!r} gave {len(local)} "
                             f"derivatives for {len(parents)} operands, {at}") from error


def _check_backward_step(node: Value, local: tuple) -> None:
    g = node.grad
    for parent, d in zip(node.parents, local, strict=True):
        if not math.isfinite(d * g):
            raise FloatingPointError(
                f"backward through {node.op} (output {node.label or 'unlabelled'} = {node.data!r}, "
                f"grad {g!r}) gave the gradient {d * g!r} to {parent.label or 'an operand'} = "
                f"{parent.data!r} (local derivative {d!r}); operands: {_describe(node.parents)}")
