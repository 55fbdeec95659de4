"""``Value``: a scalar that remembers how it was computed, and the backward pass over its graph.

Read top to bottom: the one function that makes a node (``_node``) and the operators built on
it, then the class, with its backward pass: a walk that orders the graph, then the chain rule.
Everything about an operation (its forward, its local derivatives, how it prints, any fast path)
lives in its entry of the table, ``engine.derivatives.OPS``: this file names no operation.
Around it: ``graph_order`` (the walks), ``chain_rule`` (the pass on a table of its own),
``create_graph``, ``pickling``, ``diagnosis`` (what a bad rule or a nan reports).
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Iterable, Sequence

from engine import diagnosis, pickling
from engine.conversions import not_converted, real
from engine.derivatives import OPS, POSITIONS, Op, local_derivatives, one_operand_op
from engine.graph_order import ancestors, backward_order, walk  # noqa: F401 (backward_order's old place)
from engine.modes import MODE, OPEN_ANOMALY_BLOCKS, RECORDING, warn_traced_branch

Number = int | float

_next_seq = itertools.count().__next__  # creation order: operands are older than their results
_new = object.__new__  # a bare node, its slots set by _node: a module-level name is found faster
# than object.__new__ (an attribute of a builtin), and a node is made per operation


# -- making nodes: one function, used by every operation ----------------------------------------


def _node(op: Op, data: float, x: object, y: object = None) -> Value:
    """The one way to make a node: ``data``, computed by the operation ``op`` (its table entry)
    from the operands that it stores in ``x`` and ``y`` (how, ``Value`` says). Under ``no_grad``
    the node is a leaf; under ``detect_anomaly`` a nan or inf raises, naming the operands."""
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
        if type(label) is not str and not isinstance(label, str):  # type(): a str is quick
            raise TypeError(f"Value label must be a str, not {type(label).__name__}")
        self.data = data if type(data) is float else real(data)  # a float is kept as it is
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
    def __float__(self) -> float: raise not_converted("float(v)", "v.data")
    def __int__(self) -> int: raise not_converted("int(v)", "int(v.data)")
    def __complex__(self) -> complex: raise not_converted("complex(v)", "v.data")
    def __round__(self, ndigits: int | None = None) -> float:
        raise not_converted("round(v)", "round(v.data)")

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
        return self._leaky_relu(real(slope, "leaky_relu's slope"))

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
            raise diagnosis.width_error(len(weights), len(inputs))
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
        diagnosis.check_layer(weights, biases)
        inputs = _lifted(inputs, "an input of affine_layer")
        rows = [_lifted((*row, b), "a weight or bias of affine_layer")
                for row, b in zip(weights, biases, strict=True)]
        diagnosis.check_widths(rows, inputs)
        return affine_rows(rows, inputs, activation)

    # -- the backward pass ------------------------------------------------------------------------
    def backward(self, grad: Number | Value = 1.0, create_graph: bool = False) -> None:
        """Compute d(self)/d(u) into ``u.grad`` for every ancestor ``u`` of this node.

        The walk lists the interior nodes, each after every node that uses it, and sets their
        grads to 0. Then the chain rule, node by node: a node's gradient is complete when it is
        reached, and passes to each operand times the local derivative d node / d operand from
        the table. Leaf gradients accumulate across calls (``zero_grad`` between steps, as in
        PyTorch). With ``create_graph=True`` each ``.grad`` is a Value, a graph of its own, so
        ``x.grad.backward()`` gives second derivatives (``engine.create_graph``).
        """
        if type(self) is not Value:  # Value.backward(something_else)
            raise TypeError(f"backward is a method of a Value, not of a {type(self).__name__}")
        if create_graph:
            return create_graph_pass(self, grad)
        grad = grad if type(grad) is float else seed_float(grad)
        if self._op is None:  # a leaf
            self.grad += grad
            return
        order = walk(self)
        self.grad = grad
        checked = OPEN_ANOMALY_BLOCKS[0] and MODE.get().anomaly  # OPEN_ANOMALY_BLOCKS: 2 % of W5
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


def create_graph_pass(root: Value, grad: object) -> None:
    """``backward(create_graph=True)``. ``engine.create_graph``, which builds on Value, replaces
    this when it is imported (``import engine`` does): backward reaches it with no import back."""
    raise ImportError("backward(create_graph=True) needs engine.create_graph: import engine")


# -- operations by name, and a layer's affine nodes ----------------------------------------------


def apply(op: str, *operands: Operand) -> Value:
    """A node of any operation in the table, by name: ``apply("tanh", x)``, ``apply("sum", *xs)``.

    Numbers among the operands become constant leaves. User-registered operations
    (``engine.derivatives.register``) are built this way.
    """
    entry = diagnosis.checked_entry(op, operands)
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
        s = None
        if activation is not None:
            s = one_operand_op(activation, "an affine layer's activation")
        out = []
        for row in rows:
            if type(row) is not tuple:
                row = tuple(row)
            if len(row) != width:
                raise TypeError  # not said here: the handler below finds and names the row
            total = row[-1].data  # z = b + w_1 x_1 + ... + w_n x_n, added in this order
            for i in positions:
                total += row[i].data * x[i]
            z = _node(affine, total, row, inputs)
            out.append(z if s is None else _node(s, s.forward(total), z))
        return out
    except (AttributeError, TypeError):
        diagnosis.check_rows(rows, inputs, Value)
        raise


def seed_float(grad: object) -> float:
    """backward's ``grad`` as the root's gradient: a float (a Value's number)."""
    return grad.data if type(grad) is Value else real(grad, "backward's grad")


def _decided(v: Value) -> float:
    """``v.data`` for a comparison or a truth test: a branch on data, which an ``engine.compile``
    trace would fix for every sample, so it warns while one runs."""
    if MODE.get().tracing:
        warn_traced_branch(v)
    return v.data


def _data(x: Operand) -> float:
    return x.data if type(x) is Value else real(x, "what a Value is compared with")


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
    return tuple(x if type(x) is Value else _constant(real(x, what)) for x in xs)
