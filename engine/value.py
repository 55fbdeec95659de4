"""``Value``: a scalar that remembers how it was computed, and the backward pass over its graph.

Read top to bottom: the one function that makes a node (``_node``) and the operators built on
it; the class, with its backward pass (the walk that orders the graph, then the chain rule);
the walk; the chain rule as steps on a table of the pass's own (``chain_rule_steps``), which
``engine.grad``, create_graph, the film strip and the testing toolkit replay; operations by
name and a layer's nodes. Everything about an operation (its forward, its local derivatives,
how it prints, any fast path) lives in its entry of the table, ``engine.derivatives.OPS``: this
file names no operation. ``create_graph=True`` is in ``engine.create_graph``, pickling in
``engine.pickling``, what a bad rule or a nan reports in ``engine.diagnosis``.
"""

from __future__ import annotations

import itertools
import math
import numbers
import sys
from collections.abc import Callable, Iterable, Sequence

from engine import diagnosis, pickling
from engine.derivatives import OPS, POSITIONS, Op, local_derivatives
from engine.modes import MODE, OPEN_ANOMALY_BLOCKS, RECORDING, warn_traced_branch

Number = int | float

_next_seq = itertools.count().__next__  # creation order: operands are older than their results
_new = object.__new__  # a bare node, its slots set by _node: a module-level name is found faster
# than object.__new__ (an attribute of a builtin), and a node is made per operation


# -- making nodes: one function, used by every operation ----------------------------------------


def _node(op: Op, data: float, x: object, y: object = None) -> Value:
    """The one way to make a node: ``data``, computed by the operation ``op`` (its table entry)
    from the operands that it stores in ``x`` and ``y`` (how, ``Value`` says).

    The recording mode is read here: under ``no_grad`` the node is a leaf; under
    ``detect_anomaly`` a nan or inf raises, naming the operation and its operands.
    """
    out = _new(Value)  # not Value(data): its checks are for user input, not computed floats
    out.data = data
    out.grad = 0.0
    out.label = ""
    out._seq = _next_seq()
    mode = MODE.get()
    if mode is RECORDING:
        out._op = op
        out._x = x
        out._y = y
        return out
    if mode.anomaly and not math.isfinite(data):
        out._op, out._x, out._y = op, x, y
        raise FloatingPointError(f"{op.name} produced {data} from "
                                 f"{diagnosis.describe(out.parents)}")
    out._op, out._x, out._y = (op, x, y) if mode.record else (None, None, None)
    return out


def _binary(op: str, reflected: bool = False) -> Callable[[Value, Operand], Value]:
    """The method ``self op other`` (or ``other op self``) for an operation of the table."""
    entry = OPS[op]

    def method(self: Value, other: Operand) -> Value:
        if type(other) is not Value:
            other = _constant(other)
            if other is NotImplemented:
                return NotImplemented  # Python then raises TypeError naming both types
        if reflected:
            return _node(entry, entry.forward(other.data, self.data), other, self)
        return _node(entry, entry.forward(self.data, other.data), self, other)

    return method


def _unary(op: str, doc: str) -> Callable[[Value], Value]:
    """The method ``self.op()`` for a one-operand operation of the table."""
    entry = OPS[op]

    def method(self: Value) -> Value:
        return _node(entry, entry.forward(self.data), self)

    method.__name__, method.__qualname__ = op, f"Value.{op}"  # pickle finds it as Value.tanh
    method.__doc__ = doc
    return method



class Value:
    """A scalar in a computation graph.

    ``data`` is the number, ``grad`` is d(root)/d(self) after ``root.backward()``, ``label`` names
    it in drawings and messages, ``op`` is the name of the operation that made it (``""`` for a
    leaf) and ``parents`` are that operation's operands, in order (``a * a`` has two). The node
    holds the operation's entry of the table (``_op``), where its local derivatives are.

    A node stores its operands in two slots, ``_x`` and ``_y``, not in a tuple: Python's cycle
    collector scans every live object that can hold others, and a tuple per node would double
    its work on a large graph. A one-operand op's operand is in ``_x`` (``_y`` is None), a
    two-operand op's are in ``_x`` and ``_y``; any other op's are a tuple in ``_x``, or the two
    groups of its ``Op.store`` in ``_x`` and ``_y``. A leaf stores no operands; its ``_y`` is
    ``LIFTED`` when an operator made it from a number operand (the 2 of ``x * 2``): ``constant``.
    """

    __slots__ = ("data", "grad", "label", "_op", "_x", "_y", "_seq")
    __array_ufunc__ = None  # NumPy scalars return NotImplemented, so Value's reflected op runs

    def __init__(self, data: Number, label: str = "") -> None:
        if type(label) is not str and not isinstance(label, str):
            raise TypeError(f"Value label must be a str, not {type(label).__name__}")
        self.data = data if type(data) is float else _real(data)  # a float is kept as it is
        self.grad = 0.0
        self.label = label
        self._op: Op | None = None  # a leaf: made by no operation
        self._x: object = None  # what the node stores of its operands (see parents)
        self._y: object = None
        self._seq = _next_seq()

    @property
    def op(self) -> str:
        """The name of the operation that made this node in the table; ``""`` for a leaf."""
        return "" if self._op is None else self._op.name

    @property
    def is_leaf(self) -> bool:
        """True for a node made by no operation: an input, a weight, a constant, or any result
        computed under ``no_grad()``. Gradients stop at leaves."""
        return self._op is None

    @property
    def created(self) -> int:
        """The node's creation number: a node is created after its operands, so sorting by
        ``created`` is a topological order (operands first). An unpickled node gets a new one."""
        return self._seq

    @property
    def entry(self) -> Op | None:
        """The entry of the table (``engine.derivatives.OPS``) of the operation that made this
        node: its local derivatives, how it prints, ...; None for a leaf."""
        return self._op

    @property
    def constant(self) -> bool:
        """Whether this is a number an operation was given, made a leaf (the 2 of ``x * 2``,
        the 1.0 of ``apply("sum", x, 1.0)``): a constant of the expression, not a variable. Its
        ``grad`` is still computed; pictures show it as a number."""
        return self._op is None and self._y is LIFTED

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands of the operation that made this node, in order; ``()`` for a leaf.

        Read from the node's two slots (see ``Value``); an op that stores two groups spells
        them out (``Op.operands``: an ``affine`` node keeps its neuron's ``(w, b)`` and its
        layer's ``x``, shared tuples)."""
        if self._op is None:
            return ()
        x, y = self._x, self._y
        if type(x) is not tuple:  # one or two operands
            return (x,) if y is None else (x, y)
        spell_out = self._op.operands
        return x if spell_out is None else spell_out(x, y)

    def __getstate__(self) -> tuple:
        return pickling.state(self)

    def __setstate__(self, state: tuple) -> None:
        """Unpickled or copied nodes get a new creation number, in this process's count (the
        parents are restored first), so creation order stays a topological order; their
        operation is found again by name in this process's table."""
        self.data, self.grad, self.label, self._op, self._x, self._y = pickling.restore(state)
        self._seq = _next_seq()

    def __copy__(self) -> Value:
        copy = _new(Value)
        copy.__setstate__((self.data, self.grad, self.label, self.op, self._x, self._y))
        return copy

    # -- conversions: the number is v.data; a float conversion would silently leave the graph
    def __format__(self, spec: str) -> str: return format(self.data, spec) if spec else str(self)
    def __float__(self) -> float: raise _not_converted("float(v)", "v.data")
    def __int__(self) -> int: raise _not_converted("int(v)", "int(v.data)")
    def __complex__(self) -> complex: raise _not_converted("complex(v)", "v.data")
    def __round__(self, ndigits: int | None = None) -> float:
        raise _not_converted("round(v)", "round(v.data)")

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
    sin = _unary("sin", "Sine (of x in radians); nan at +-inf")
    cos = _unary("cos", "Cosine (of x in radians); nan at +-inf")
    tanh = _unary("tanh", "Hyperbolic tangent, stable for any x")
    sigmoid = _unary("sigmoid", "1 / (1 + e ** -x), computed without overflow for any x")
    relu = _unary("relu", "max(x, 0), with the subgradient 0 at 0")
    _leaky_relu = _binary("leaky_relu")

    def leaky_relu(self, slope: float = 0.01) -> Value:
        """x if x > 0 else slope * x; the slope is a constant (its derivative is slope at 0)."""
        return self._leaky_relu(_real(slope, "leaky_relu's slope"))

    # -- comparisons and truth compare data, as for numbers; == stays identity (Values are hashed)
    def __lt__(self, other: Operand) -> bool: return _decided(self) < _data(other)
    def __le__(self, other: Operand) -> bool: return _decided(self) <= _data(other)
    def __gt__(self, other: Operand) -> bool: return _decided(self) > _data(other)
    def __ge__(self, other: Operand) -> bool: return _decided(self) >= _data(other)
    def __bool__(self) -> bool: return _decided(self) != 0

    # -- n-ary operations: one node, many operands -----------------------------------------------
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
        return apply("affine", *weights, *inputs, bias)

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
        inputs = _lifted(inputs, "an input of affine_layer")
        rows = [_lifted((*row, b), "a weight or bias of affine_layer")
                for row, b in zip(weights, biases, strict=True)]
        for row in rows:
            if len(row) != len(inputs) + 1:
                raise ValueError(f"affine needs as many weights as inputs, got {len(row) - 1} "
                                 f"weights and {len(inputs)} inputs")
        return affine_rows(rows, inputs, activation)

    # -- the backward pass ------------------------------------------------------------------------
    def backward(self, grad: Number | Value = 1.0, create_graph: bool = False) -> None:
        """Compute d(self)/d(u) into ``u.grad`` for every ancestor ``u`` of this node.

        The walk lists the interior nodes, each after every node that uses it, and sets their
        grads to 0 (``_walk``). Then the chain rule, node by node: a node's gradient is complete
        when it is reached, and passes to each operand times the local derivative
        d node / d operand from the table. No recursion: graphs of any depth work.

        Leaf gradients accumulate across calls (call ``zero_grad`` between steps, as in
        PyTorch); the nodes in between hold this pass's gradient. With ``create_graph=True``
        each ``.grad`` is a Value, a graph of its own, so ``x.grad.backward()`` gives second
        derivatives (``engine.create_graph``; ``engine.grad`` leaves ``.grad`` alone).
        """
        if type(self) is not Value:  # Value.backward(something_else)
            raise TypeError(f"backward is a method of a Value, not of a {type(self).__name__}")
        if create_graph or type(grad) is not float:
            if create_graph:
                create_graph_pass(self, grad, True)
                return
            grad = seed_float(grad)
        if self._op is None:  # a leaf
            self.grad += grad
            return
        order = _walk(self)
        self.grad = grad
        checked = OPEN_ANOMALY_BLOCKS[0] and MODE.get().anomaly  # see OPEN_ANOMALY_BLOCKS
        try:
            for node in order:  # each node after every node that uses it: its grad is complete
                g = node.grad
                if node._op.chain_rule is None:
                    for operand, local in local_derivatives(node):
                        operand.grad += local * g  # the chain rule: local derivative x upstream
                else:  # the same loop, written out in the table for how the op stores operands
                    node._op.chain_rule(node, g)
                if checked:
                    diagnosis.check_step(node, g)
        except (TypeError, ValueError, AttributeError) as error:
            diagnosis.refuse_miscounting_rules(order, error)  # a rule gave too few or too many
            raise

    def zero_grad(self) -> None:
        """Set the gradient of this node and of all its ancestors to 0."""
        for node in ancestors(self):
            node.grad = 0.0


Operand = Value | int | float  # a number operand becomes a constant leaf


def _create_graph_not_loaded(root: Value, grad: object, write: bool) -> dict:
    raise ImportError("backward(create_graph=True) needs engine.create_graph: import engine")


create_graph_pass: Callable[[Value, object, bool], dict] = _create_graph_not_loaded  # see below
"""``backward(create_graph=True)``'s pass. It lives in ``engine.create_graph``, which builds
nodes and so imports this module: importing it (``import engine`` does) sets this name, and
backward reaches it without importing it back."""


# -- the walk: the order of the backward pass (iterative: a graph may be a million nodes deep) ----


class _PassZero(float):
    """A float 0 that is always a new object, even where ``is`` compares floats by value
    (PyPy). On CPython ``float(0)`` is one already, and cheaper to make."""

    __slots__ = ()


_new_zero = float if sys.implementation.name == "cpython" else _PassZero


def _walk(root: Value) -> list[Value]:
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
        order.sort(key=_created, reverse=True)
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
        order.sort(key=_created, reverse=True)
    return order


def _created(node: Value) -> int:
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
    return sorted(seen, key=_created)


# -- the chain rule on a table of the pass's own, and step by step ------------------------------


def chain_rule(order: Sequence[Value], grads: dict, upstream: Callable | None = None,
               on_values: bool = False) -> None:
    """``backward``'s loop on a table instead of the nodes: ``grads[u]`` is u's gradient
    (``grads[root]`` its seed; a missing entry reads as 0, as in a ``defaultdict(float)``), and
    no ``.grad`` is read or written, so passes in several threads on shared parameters never
    meet. ``upstream(node)``, if given, is a node's gradient as the pass multiplies it (see
    ``engine.create_graph``); ``on_values`` runs the rules on Values."""
    for node in order:  # each node after every node that uses it: its gradient is complete
        g = grads[node] if upstream is None else upstream(node)
        for operand, local in local_derivatives(node, on_values):
            grads[operand] += local * g  # the chain rule, as in backward


class _Steps(dict):
    """The table of ``chain_rule_steps``: it writes down each step of the chain rule as the pass
    takes it (the node comes from ``upstream``, the local derivative from the same rule)."""

    def __init__(self, root: Value, grad: float) -> None:
        super().__init__({root: grad})
        self.steps: list[tuple] = []

    def __missing__(self, node: Value) -> float:
        return 0.0

    def upstream(self, node: Value) -> float:
        self.node, self.g, self.slot = node, self[node], 0
        self.locals = local_derivatives(node)
        return self.g

    def __setitem__(self, operand: Value, after: float) -> None:
        local = self.locals[self.slot][1]
        self.steps.append((self.node, self.slot, operand, local, self.g, self[operand], after))
        self.slot += 1
        super().__setitem__(operand, after)


def chain_rule_steps(root: Value, grad: float = 1.0) -> list[tuple]:
    """The backward pass from ``root`` (seeded with ``grad``), step by step: for each node in
    ``backward_order``, for each of its operands, ``(node, slot, operand, local, upstream,
    before, after)``: operand number ``slot`` of ``node`` has its gradient go from ``before`` to
    ``after = before + local * upstream``, ``local`` being d node / d operand and ``upstream``
    node's gradient, complete. It runs ``chain_rule``, so the numbers are exactly those of
    ``zero_grad()`` then ``backward(grad)``, and no ``.grad`` changes. The film strip, the trace
    table and gradcheck's reference pass read the backward pass here."""
    table = _Steps(root, grad)
    chain_rule(backward_order(root), table, table.upstream)
    return table.steps


# -- operations by name, and a layer's affine nodes ----------------------------------------------


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
    operands = _lifted(operands, f"an operand of {op}")
    data = entry.forward(*[x.data for x in operands])
    if entry.store is not None:  # two groups (see Op.store)
        return _node(entry, data, *entry.store(operands))
    if entry.arity in (1, 2):
        return _node(entry, data, *operands)
    return _node(entry, data, operands)  # many operands: in one tuple


def affine_rows(rows: Sequence[tuple[Value, ...]], inputs: Sequence[Value],
                activation: str | None = None) -> list[Value]:
    """One ``affine`` node ``z = w . x + b`` per row ``(w_1, ..., w_n, b)`` of ``rows`` (tuples of
    Values), all on the same ``inputs`` (Values); with ``activation`` (the name of a one-operand
    operation), each followed by its node ``a = s(z)``, and the ``a`` returned.

    Each node stores its row and the inputs tuple, shared with the layer's other nodes: the graph
    of a layer holds its inputs once, not once per neuron, and the walk visits them once. A
    layer that calls this with the same row tuples each time (``nn.Layer``) shares them too.
    """
    inputs = tuple(inputs)
    affine = OPS["affine"]
    try:
        x = [v.data for v in inputs]
        positions = POSITIONS[len(x)] if len(x) < len(POSITIONS) else range(len(x))
        width = len(x) + 1
        s = None if activation is None else _activation(activation)
        out = []
        for row in rows:
            if type(row) is not tuple:
                row = tuple(row)
            if len(row) != width:
                raise TypeError
            total = row[-1].data  # z = b + w_1 x_1 + ... + w_n x_n, added in this order
            for i in positions:
                total += row[i].data * x[i]
            z = _node(affine, total, row, inputs)
            out.append(z if s is None else _node(s, s.forward(total), z))
        return out
    except (AttributeError, TypeError):
        _check_rows(rows, inputs)
        raise


def _activation(name: str) -> Op:
    entry = OPS.get(name)
    if entry is None or entry.arity != 1:
        raise ValueError(f"an affine layer's activation must name a one-operand operation, "
                         f"got {name!r}")
    return entry


def _check_rows(rows: Sequence[tuple], inputs: tuple) -> None:
    """Raise a TypeError naming what is wrong with ``affine_rows``' arguments."""
    for i, x in enumerate(inputs):
        if type(x) is not Value:
            raise TypeError(f"affine_rows: input {i} is a {type(x).__name__}, not a Value")
    for j, row in enumerate(rows):
        if len(row) != len(inputs) + 1:
            raise TypeError(f"affine_rows: row {j} must hold {len(inputs)} weights and a bias, "
                            f"got {len(row)} Values")
        for i, w in enumerate(row):
            if type(w) is not Value:
                raise TypeError(f"affine_rows: row {j}, entry {i} is a {type(w).__name__}, not "
                                "a Value")


def seed_float(grad: object) -> float:
    """backward's ``grad`` as the root's gradient: a float (a Value's number)."""
    return grad.data if type(grad) is Value else _real(grad, "backward's grad")


def _real(x: object, what: str = "Value data") -> float:
    if type(x) is float:
        return x
    if isinstance(x, numbers.Real) and not isinstance(x, Value):
        try:
            return float(x)
        except OverflowError:  # an int beyond the float range rounds to +-inf, as in IEEE
            return math.inf if x > 0 else -math.inf
    raise TypeError(f"{what} must be a real number (int, float, bool or a NumPy real scalar), "
                    f"not {type(x).__name__}: {x!r:.80}")


def _not_converted(call: str, instead: str) -> TypeError:
    return TypeError(f"{call}: a Value is not converted to a number implicitly, which would "
                     f"leave the graph without a word. Use {instead} for its number (a float, "
                     "off the graph: no gradient flows through it), or the Value method to stay "
                     "on the graph: v.exp(), v.log(), v.sqrt(), v.tanh(), v ** 2, ...")


def _decided(v: Value) -> float:
    """``v.data`` for a comparison or a truth test: a branch on data, which an ``engine.compile``
    trace would fix for every sample, so it warns while one runs."""
    if MODE.get().tracing:
        warn_traced_branch(v)
    return v.data


def _data(x: Operand) -> float:
    return x.data if type(x) is Value else _real(x, "what a Value is compared with")


LIFTED = True  # a leaf's _y: made from a number operand (Value.constant); a singleton in pickles


def _constant(x: object) -> Value:
    """A number operand (the 2 of ``x * 2``) as a constant leaf; NotImplemented for anything
    else."""
    if type(x) is not float and not isinstance(x, numbers.Real):
        return NotImplemented
    leaf = Value(x)
    leaf._y = LIFTED
    return leaf


def _lifted(xs: Iterable[object], what: str) -> tuple[Value, ...]:
    """``xs`` as a tuple of Values, numbers made constant leaves (a TypeError names the rest)."""
    return tuple(x if type(x) is Value else _constant(_real(x, what)) for x in xs)
