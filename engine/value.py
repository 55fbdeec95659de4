"""``Value``: a scalar that remembers how it was computed, and the backward pass over its graph.

Read top to bottom: the one function that makes a node (``_node``) and the operators built on
it, the class with its backward pass (a walk that orders the graph, then the chain rule, written
once), the walk, operations by name and a layer's nodes, what errors need, how
``create_graph=True`` writes each gradient as one node, and pickling.
Everything about an operation (its forward, its local derivatives, how it prints, any fast path)
lives in its entry of the table, ``engine.derivatives.OPS``; this file names no operation.
"""

from __future__ import annotations

import itertools
import math
import numbers
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter

from engine.derivatives import OPS, POSITIONS, Op, local_derivatives
from engine.modes import MODE, OPEN_ANOMALY_BLOCKS, RECORDING, ModeBlock, warn_traced_branch

Number = int | float

_new = object.__new__
_next_seq = itertools.count().__next__  # creation order: operands are older than their results
_seq_of = attrgetter("_seq")


# -- making nodes: one function, used by every operation ----------------------------------------


def _node(op: Op, data: float, x: object, y: object = None) -> Value:
    """The one way to make a node: ``data``, computed by the operation ``op`` (its table entry)
    from the operands that it stores in ``x`` and ``y`` (how, ``Value`` says).

    The recording mode is read here: under ``no_grad`` the node is a leaf; under
    ``detect_anomaly`` a nan or inf raises, naming the operation and its operands.
    """
    out = _new(Value)
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
        raise FloatingPointError(f"{op.name} produced {data} from {_describe(out.parents)}")
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
        return _state(self)

    def __setstate__(self, state: tuple) -> None:
        """Unpickled or copied nodes get a new creation number, in this process's count (the
        parents are restored first), so creation order stays a topological order; their
        operation is found again by name in this process's table."""
        if type(state[-2]) is str:  # pickled before nodes had two slots: (..., op, parents)
            state = (*state[:-1], *_slots_from_parents(state[-2], state[-1]))
        self.data, self.grad, self.label, op, self._x, self._y = state[-6:]  # [0]: see _state
        self._op = OPS[op] if op else None
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

        First a walk lists the interior nodes, each after every node that uses it, and sets their
        grads to 0 (``_walk``). Then the chain rule runs node by node: each node's gradient is
        complete when it is reached, and passes to each operand times the local derivative
        d node / d operand from the table. No recursion: graphs of any depth work.

        Leaf gradients accumulate across calls (call ``zero_grad`` between steps, as in PyTorch);
        the nodes in between get this pass's gradient, so two calls give twice the leaf gradients.
        ``.grad`` is a float; with ``create_graph=True`` it is a Value, a node of a graph built by
        running each rule on Values, so ``x.grad.backward()`` gives second derivatives (as in
        PyTorch, ``x.grad`` then refers to a graph that uses ``x``: prefer ``engine.grad``).
        Then ``g`` is an ``Upstream``: ``local * g`` is the term ``(local, dy/dn)``, and each
        node's terms become one node when the pass reaches it (``GradientSums``, below).
        """
        if type(self) is not Value:  # Value.backward(something_else)
            raise TypeError(f"backward is a method of a Value, not of a {type(self).__name__}")
        if type(grad) is not float:
            grad = _seed(grad, create_graph)
        elif create_graph:
            grad = Value(grad)
        if self._op is None:  # a leaf
            self.grad += grad
            return
        order = _walk(self)
        sums = GradientSums(order) if create_graph else None  # see GradientSums, below
        self.grad = grad
        checked = OPEN_ANOMALY_BLOCKS[0] and MODE.get().anomaly  # under detect_anomaly
        try:
            for node in order:  # each node after every node that uses it: its grad is complete
                g = sums.upstream(node) if create_graph else node.grad
                op = node._op
                if op.chain_rule is not None and (not create_graph or op.chain_rule_on_values):
                    op.chain_rule(node, g)  # the loop below, written out for how the op
                else:  # stores its operands (a neuron's affine)
                    for operand, local in local_derivatives(node, create_graph):
                        operand.grad += local * g  # the chain rule: local derivative x upstream
                if checked:
                    _check_backward_step(node)
        except (TypeError, ValueError, AttributeError) as error:
            _refuse_miscounting_rules(order, error)  # clearer if a rule gave too few or too many
            if create_graph:
                _refuse_rules_off_values(order, error)
            raise
        except FloatingPointError as error:  # detect_anomaly, in a rule run on Values: say where
            if not create_graph:
                raise
            raise FloatingPointError(f"backward through {node.op} (output "
                                     f"{node.label or 'unlabelled'} = {node.data!r}) with "
                                     f"create_graph=True: {error}") from error
        finally:
            if create_graph:  # no .grad is left holding terms, even after an error
                overflow = sums.settle(order)
        if create_graph and overflow is not None:  # under detect_anomaly
            raise overflow

    def zero_grad(self) -> None:
        """Set the gradient of this node and of all its ancestors to 0."""
        for node in ancestors(self):
            node.grad = 0.0


Operand = Value | int | float  # a number operand becomes a constant leaf


# -- the walk: the order of the backward pass (iterative: a graph may be a million nodes deep) ----


class _PassZero(float):
    """A float 0 that is always a new object, even where ``is`` compares floats by value
    (PyPy). On CPython ``float(0)`` is one already, and cheaper to make."""

    __slots__ = ()


_new_zero = float if sys.implementation.name == "cpython" else _PassZero


def _walk(root: Value) -> list[Value]:
    """``backward_order(root)``, setting the grad of each node found to 0 on the way: interior
    nodes receive this pass's gradient only.

    Breadth-first from the root: when no interior node is reached twice (a tree), the order
    found is already each node after all its users. Otherwise the nodes are sorted newest
    first: creation order is a topological order, because a node's operands exist before it.

    Two tricks keep it fast. The 0 is an object made for this walk, so ``grad is zero`` says
    that a node was found already: no set of nodes to fill and search (each node found is an
    operand of a node the backward pass visits, so its first ``+=`` replaces the mark by a
    plain float). A node that stores its operands in groups shared with other nodes (an
    ``affine`` node: its layer's inputs) has each group walked once, by its id.
    """
    zero = _new_zero(0)  # a new object: this walk's zero
    order = [root]
    groups_walked = None  # the ids of the groups walked (a set, made at the first group)
    shared = False
    for node in order:  # the list grows while we walk it: a queue without pops
        x, y = node._x, node._y
        if type(x) is not tuple:  # one or two operands (see Value): x, then y if there is one
            # (written out here, not stored_operands: a call and a tuple per node cost backward)
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
        order.sort(key=_seq_of, reverse=True)
    return order


def backward_order(root: Value) -> list[Value]:
    """The non-leaf ancestors of ``root`` (itself included) in the order ``backward`` visits them:
    each node after all the nodes that use it, so its gradient is complete when it is reached.

    Leaves are left out: they only receive gradients. This runs the walk of ``backward`` itself,
    then puts back the gradients that the walk sets to 0 (do not run it while another thread
    runs ``backward`` on the same graph).
    """
    if root._op is None:
        return []
    saved = [(node, node.grad) for node in ancestors(root) if node._op is not None]
    try:
        return _walk(root)
    finally:
        for node, grad in saved:
            node.grad = grad


def stored_operands(node: Value, groups_seen: set[int]) -> Sequence[Value]:
    """The operands ``node`` stores, as it stores them (see ``Value``): nothing for a leaf, its
    x (and y), its tuple, or the members of its two shared groups (``Op.store``) whose ids are
    not in ``groups_seen`` yet (it adds them). For walks that look at each operand once and need
    no order; ``parents`` gives them in order."""
    x, y = node._x, node._y
    if type(x) is not tuple:
        return () if x is None else (x,) if y is None else (x, y)
    if node._op.operands is None:
        return x
    return [v for group in (x, y) if id(group) not in groups_seen
            and not groups_seen.add(id(group)) for v in group]


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
    return sorted(seen, key=_seq_of)


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


def _seed(grad: object, create_graph: bool) -> float | Value:
    """backward's ``grad`` as the root's gradient: a float, or a Value to build on."""
    if type(grad) is Value:
        return grad if create_graph else grad.data
    grad = _real(grad, "backward's grad")
    return Value(grad) if create_graph else grad


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


# -- what detect_anomaly and a miscounting rule report --------------------------------------------


def _describe(values: Iterable[Value]) -> str:
    return ", ".join(f"{v.label or 'an unlabelled value'} = {v.data!r}" for v in values)


def _check_backward_step(node: Value) -> None:
    """Under detect_anomaly: raise if the step through ``node`` gave an operand nan or inf."""
    g = node.grad if type(node.grad) is float else node.grad.data  # a Value with create_graph
    for operand, local in local_derivatives(node):
        if not math.isfinite(local * g):
            raise FloatingPointError(
                f"backward through {node.op} (output {node.label or 'unlabelled'} = {node.data!r}, "
                f"grad {g!r}) gave the gradient {local * g!r} to {operand.label or 'an operand'} "
                f"= {operand.data!r} (local derivative {local!r}); operands: "
                f"{_describe(node.parents)}")


def _refuse_miscounting_rules(nodes: list[Value], error: Exception) -> None:
    """Raise an error naming the first node whose rule does not give a tuple of one local
    derivative per operand (a user-registered rule, most likely), caused by ``error``; return
    if every rule counts right, or one raises (``error`` is then the one to see)."""
    for node in nodes:
        parents = node.parents
        try:
            local = node._op.derivatives(*[p.data for p in parents], node.data)
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


def _refuse_rules_off_values(nodes: list[Value], error: Exception) -> None:
    """Under create_graph: raise a TypeError naming the first node whose rule cannot run on
    Values, and how to write one that can, caused by ``error``."""
    for node in nodes:
        try:
            local_derivatives(node, True)
        except (TypeError, ValueError, AttributeError) as cause:
            raise TypeError(
                f"the local-derivative rule of {node.op!r} cannot run on Values, which "
                f"backward(create_graph=True) needs ({cause}): write it with arithmetic "
                "operators, Value methods (exp, tanh, ...) and the helpers of "
                "engine.derivatives (div, power, log, sign), which work on floats and on Values "
                "alike") from error


# -- create_graph: each gradient written as one node --------------------------------------------
#
# The chain rule gives a node u the gradient dy/du = sum_n dn/du * dy/dn over the nodes n that
# use it. Built one term at a time, that sum would be two nodes per term, a * and a +. Instead,
# with create_graph, u.grad is a Terms list while the pass runs; the chain rule's local * g
# (g an Upstream) is the pair (local, dy/dn) that += adds to it; and when the pass reaches u
# (or ends, for a leaf) GradientSums.total writes the terms as one node: a weight used by 100
# samples gets one node of 100 terms, not 200 nodes.


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
        groups_seen: set[int] = set()
        for node in order:
            node.grad = Terms(_NOTHING)
            for v in stored_operands(node, groups_seen):
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


# -- pickling and deep copies of graphs of any depth ----------------------------------------------


class _Flattening(threading.local):
    covered: frozenset[int] = frozenset()  # ids of the nodes of the list being written


_FLATTENING = _Flattening()


def _slots_from_parents(op: str, parents: tuple) -> tuple[object, object]:
    """``_x`` and ``_y`` for a node pickled with its operands in one tuple (before 2026-12),
    as ``_node`` stores them now (see ``Value``), so that older pickles still load."""
    entry = OPS[op] if op else None
    if entry is None or entry.store is not None:  # a leaf (), or the groups of Op.store
        return (None, None) if entry is None else tuple(parents)
    if entry.arity in (1, 2):
        return parents[0], parents[1] if len(parents) == 2 else None
    return parents, None


class _EndOfFlattening:
    """Closes a list of ``_state``: when pickle or deepcopy reach it, the list is written."""

    def __reduce__(self) -> tuple:
        _FLATTENING.covered = frozenset()
        return tuple, ()


def _state(node: Value) -> tuple:
    """A node's state for pickle and deepcopy: ``(data, grad, label, op, x, y)``, after,
    for the first node of a graph written, its interior ancestors, oldest first. Written in that
    order, each ancestor finds its operands written already: pickle and deepcopy recurse one node
    deep, not as deep as the graph (they would raise RecursionError past a few hundred nodes)."""
    state = node.data, node.grad, node.label, node.op, node._x, node._y
    if node._op is None or id(node) in _FLATTENING.covered:
        return state
    older = [n for n in ancestors(node) if n._op is not None and n is not node]
    if not older:
        return state
    _FLATTENING.covered = frozenset(map(id, older))
    return ([*older, _EndOfFlattening()], *state)

