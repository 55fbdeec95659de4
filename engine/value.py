"""``Value``: a scalar that remembers how it was computed, and the backward pass over its graph.

Read top to bottom: the class, the one function that makes a node (``_node``), the backward pass
(a walk that orders the graph, then the chain rule, written once), and the graph's traversals.
Everything about an operation (its forward, its local derivatives, how it prints, any fast path)
lives in its entry of the table, ``engine.derivatives.OPS``; this file names no operation.
"""

from __future__ import annotations

import itertools
import math
import numbers
import sys
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter

from engine.derivatives import OPS, Op, affine_width, local_derivatives
from engine.modes import MODE, OPEN_ANOMALY_BLOCKS, RECORDING

Number = int | float

_new = object.__new__
_next_seq = itertools.count().__next__  # creation order: operands are older than their results
_seq_of = attrgetter("_seq")


# -- making nodes: one function, used by every operation ----------------------------------------


def _node(op: Op, data: float, parents: tuple) -> Value:
    """The one way to make a node: ``data``, computed by the operation ``op`` (its table entry)
    from ``parents``.

    The recording mode is read here: under ``no_grad`` the node is a leaf; under
    ``detect_anomaly`` a nan or inf raises, naming the operation and its operands.
    """
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    out._seq = _next_seq()
    if MODE.get() is RECORDING:
        out._op = op
        out._parents = parents
        return out
    mode = MODE.get()
    if mode.anomaly and not math.isfinite(data):
        out._op, out._parents = op, parents
        raise FloatingPointError(f"{op.name} produced {data} from {_describe(out.parents)}")
    out._op, out._parents = (op, parents) if mode.record else (None, ())
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
            return _node(entry, entry.forward(other.data, self.data), (other, self))
        return _node(entry, entry.forward(self.data, other.data), (self, other))

    return method


def _unary(op: str, doc: str) -> Callable[[Value], Value]:
    """The method ``self.op()`` for a one-operand operation of the table."""
    entry = OPS[op]

    def method(self: Value) -> Value:
        return _node(entry, entry.forward(self.data), (self,))

    method.__name__ = method.__qualname__ = op
    method.__doc__ = doc
    return method



class Value:
    """A scalar in a computation graph.

    ``data`` is the number, ``grad`` is d(root)/d(self) after ``root.backward()``, ``label`` names
    it in drawings and messages, ``op`` is the name of the operation that made it (``""`` for a
    leaf) and ``parents`` are that operation's operands, in order (``a * a`` has two). The node
    holds the operation's entry of the table (``_op``), where its local derivatives are.
    """

    __slots__ = ("data", "grad", "label", "_op", "_parents", "_seq")
    __array_ufunc__ = None  # NumPy scalars return NotImplemented, so Value's reflected op runs

    def __init__(self, data: Number, label: str = "") -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, not {type(label).__name__}")
        self.data = _real(data)
        self.grad = 0.0
        self.label = label
        self._op: Op | None = None  # a leaf: made by no operation
        self._parents: tuple = ()  # what the node stores of its operands (see parents)
        self._seq = _next_seq()

    @property
    def op(self) -> str:
        """The name of the operation that made this node in the table; ``""`` for a leaf."""
        return "" if self._op is None else self._op.name

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands of the operation that made this node, in order; ``()`` for a leaf.

        A node stores them as they are, unless its op says otherwise (``Op.operands``: an
        ``affine`` node keeps its neuron's ``(w, b)`` and its layer's ``x``, shared tuples)."""
        spell_out = None if self._op is None else self._op.operands
        return self._parents if spell_out is None else spell_out(self._parents)

    def __getstate__(self) -> tuple:
        return self.data, self.grad, self.label, self.op, self._parents

    def __setstate__(self, state: tuple) -> None:
        """Unpickled or copied nodes get a new creation number, in this process's count (the
        parents are restored first), so creation order stays a topological order; their
        operation is found again by name in this process's table."""
        self.data, self.grad, self.label, op, self._parents = state
        self._op = OPS[op] if op else None
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
        """
        if type(grad) is not float:
            grad = _seed(grad, create_graph)
        elif create_graph:
            grad = Value(grad)
        if not self._parents:
            self.grad += grad
            return
        order = _walk(self)
        self.grad = grad
        checked = OPEN_ANOMALY_BLOCKS[0] and MODE.get().anomaly  # under detect_anomaly
        leaves: list[Value] = []  # with create_graph: the leaves reached, to sum their terms
        shared = [None]  # with create_graph: the last tuple of upstream gradients (_total)
        try:
            for node in order:  # each node after every node that uses it: its grad is complete
                chain_rule = node._op.chain_rule
                if create_graph:  # the same step, on Values: each term is a node
                    _chain_rule_on_values(node, leaves, shared)
                elif chain_rule is not None:  # the loop below, written out for how the op
                    chain_rule(node)  # stores its operands (a neuron's affine node)
                else:
                    operands, local = local_derivatives(node)
                    g = node.grad
                    i = 0
                    for operand in operands:
                        operand.grad += local[i] * g  # the chain rule: local derivative x upstream
                        i += 1
                if checked:
                    _check_backward_step(node)
        except (TypeError, ValueError) as error:
            _refuse_miscounting_rules(order, error)  # clearer if a rule gave too few or too many
            raise
        finally:
            for node in leaves if create_graph else ():  # (and order's, if a step raised)
                node.grad = _total(node.grad, shared)
            if create_graph and type(order[-1].grad) is _Terms:
                for node in order:
                    node.grad = _total(node.grad, shared)

    def zero_grad(self) -> None:
        """Set the gradient of this node and of all its ancestors to 0."""
        for node in ancestors(self):
            node.grad = 0.0


Operand = Value | int | float  # a number operand becomes a constant leaf


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
    if entry.operands is not None:  # stored in groups shared between nodes: its own builder
        n = affine_width(len(operands))
        return affine_rows(((*operands[:n], operands[-1]),), operands[n:-1])[0]
    return _node(entry, entry.forward(*[x.data for x in operands]), operands)


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
        s = None if activation is None else _activation(activation)
        out = []
        for row in rows:
            if type(row) is not tuple:
                row = tuple(row)
            if len(row) != len(x) + 1:
                raise TypeError
            total = row[-1].data  # z = b + w_1 x_1 + ... + w_n x_n, added in this order
            for w, xi in zip(row, x):  # noqa: B905 (the row's last entry, b, is already in)
                total += w.data * xi
            z = _node(affine, total, (row, inputs))
            out.append(z if s is None else _node(s, s.forward(total), (z,)))
        return out
    except (AttributeError, TypeError):
        _check_rows(rows, inputs, activation)
        raise


def _activation(name: str) -> Op:
    entry = OPS.get(name)
    if entry is None or entry.arity != 1:
        raise ValueError(f"an affine layer's activation must name a one-operand operation, "
                         f"got {name!r}")
    return entry


def _check_rows(rows: Sequence[tuple], inputs: tuple, activation: str | None) -> None:
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


class _Terms(list):
    """A node's gradient while ``backward(create_graph=True)`` collects it: the terms
    ``local * upstream`` as ``[local_1, upstream_1, local_2, upstream_2, ...]``, and in
    ``passed`` the gradients passed on unchanged (a local derivative 1). When the gradient is
    complete, they become one node (``_total``)."""

    __slots__ = ("passed",)


def _total(grad: float | Value | _Terms, shared: list) -> float | Value:
    """A gradient as one Value: its terms added up in one node, or the gradient as it is.

    Many products become one ``affine`` node, ``sum(passed on) + sum_i local_i * upstream_i``:
    the gradient graph gets a node per gradient, not per term, and its backward pass runs
    affine's fast kernel. The upstream gradients are stored as the tuple of the last such node
    when they are the same (``shared[0]``; a layer's inputs all get their gradients from the
    same nodes), so the walk visits them once, as it does a layer's inputs.
    """
    if type(grad) is not _Terms:
        return grad
    passed = grad.passed
    if len(grad) > 2:
        bias = apply("sum", *passed) if len(passed) > 1 else _lifted(passed or (0.0,), "")[0]
        upstream = tuple(grad[1::2])
        if upstream == shared[0]:
            upstream = shared[0]
        shared[0] = upstream
        return affine_rows(((*grad[0::2], bias),), upstream)[0]
    terms = [*passed, grad[0] * grad[1]] if grad else passed
    if len(terms) == 1 and type(terms[0]) is Value:
        return terms[0]
    return apply("sum", *terms) if terms else Value(0.0)


def _chain_rule_on_values(node: Value, leaves: list[Value], shared: list) -> None:
    """The chain rule through ``node`` with its rule run on Values: each operand gets the term
    ``local * node.grad``, to be a node of the graph (a constant 1 passes the gradient on, a
    constant 0 adds nothing: its derivative is 0). A leaf's earlier gradient is its first term."""
    g = node.grad = _total(node.grad, shared)
    try:
        operands, local = local_derivatives(node, on_values=True)
    except (TypeError, AttributeError) as error:
        raise TypeError(
            f"the local-derivative rule of {node.op!r} cannot run on Values, which "
            f"backward(create_graph=True) needs ({error}): write it with arithmetic operators, "
            "Value methods (exp, tanh, ...) and the helpers of engine.derivatives (div, power, "
            "log, sign), which work on floats and on Values alike") from error
    except FloatingPointError as error:  # under detect_anomaly: say which step made it
        raise FloatingPointError(f"backward through {node.op} (output "
                                 f"{node.label or 'unlabelled'} = {node.data!r}) with "
                                 f"create_graph=True: {error}") from error
    for operand, d in zip(operands, local):  # noqa: B905 (local_derivatives checked the count)
        terms = operand.grad
        if type(terms) is not _Terms:  # first reached in this pass
            old = terms
            terms = operand.grad = _Terms()
            if operand._parents:
                terms.passed = []
            else:  # a leaf: its earlier gradient is a term too
                terms.passed = [] if type(old) is float and old == 0.0 else [old]
                leaves.append(operand)
        if type(d) is Value:
            terms += d, g
        elif d == 1.0:
            terms.passed.append(g)
        elif d != 0.0:
            terms += Value(d), g


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
        return float(x)
    raise TypeError(f"{what} must be a real number (int, float, bool or a NumPy real scalar), "
                    f"not {type(x).__name__}: {x!r:.80}")


def _data(x: Operand) -> float:
    return x.data if type(x) is Value else _real(x, "what a Value is compared with")


def _constant(x: object) -> Value:
    """A number operand (the 2 of ``x * 2``) as a leaf; NotImplemented for anything else."""
    if type(x) is not float and not isinstance(x, numbers.Real):
        return NotImplemented
    return Value(x)


def _lifted(xs: Iterable[object], what: str) -> tuple[Value, ...]:
    """``xs`` as a tuple of Values, numbers made constant leaves (a TypeError names the rest)."""
    return tuple(x if type(x) is Value else Value(_real(x, what)) for x in xs)


# -- the walk: the order of the backward pass (iterative: a graph may be a million nodes deep) ----


class _PassZero(float):
    """A float 0 that is always a new object, even where ``is`` compares floats by value
    (PyPy). On CPython ``float(0)`` is one already, and cheaper to make."""

    __slots__ = ()


_new_zero = float if sys.implementation.name == "cpython" else _PassZero
_NO_GROUPS = frozenset()


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
    groups_walked = _NO_GROUPS  # the ids of the groups walked (a set, made at the first group)
    shared = False
    for node in order:  # the list grows while we walk it: a queue without pops
        operands = node._parents
        if type(operands[0]) is tuple:  # stored in groups: walk each group once
            if groups_walked is _NO_GROUPS:
                groups_walked = set()
            unwalked = ()
            for group in operands:
                if id(group) in groups_walked:
                    shared = True
                else:
                    groups_walked.add(id(group))
                    unwalked = unwalked + group if unwalked else group
            operands = unwalked
        for operand in operands:
            if operand._parents:
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
    if not root._parents:
        return []
    saved = [(node, node.grad) for node in ancestors(root) if node._parents]
    try:
        return _walk(root)
    finally:
        for node, grad in saved:
            node.grad = grad


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


# -- what detect_anomaly and a miscounting rule report --------------------------------------------


def _describe(values: Iterable[Value]) -> str:
    return ", ".join(f"{v.label or 'an unlabelled value'} = {v.data!r}" for v in values)


def _check_backward_step(node: Value) -> None:
    """Under detect_anomaly: raise if the step through ``node`` gave an operand nan or inf."""
    g = node.grad if type(node.grad) is float else node.grad.data  # a Value: create_graph
    for operand, local in zip(*local_derivatives(node), strict=True):
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
