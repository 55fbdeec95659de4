"""The table of operations: what each computes and its local derivatives, one line each.

Every node of a graph holds its operation's entry of this table (``node.op`` is its name) and
its operands (``parents``). Its *local derivatives* ``d out / d operand_i`` come from the entry,
through :func:`local_derivatives`, during the backward pass, which multiplies each by the node's
own gradient: the chain rule, in one place (:meth:`engine.Value.backward`). In the lecture
notes' words, each weight's gradient is "the forward signal times the backward signal": the
forward signals are the operands stored here, the backward signal is the gradient arriving at
the node.

A rule takes the operands' values and the output's value (``*inputs, out``) and returns one local
derivative per operand; an operation whose local derivatives are constants (``+``, ``-``, ``neg``)
gives them as a tuple instead. Rules are plain arithmetic on their arguments, so they work on
floats (the backward pass) and on Values alike; the helpers below (``div``, ``reciprocal``,
``power``, ``exp``, ``log``, ``sqrt``, ``sin``, ``cos``, ``tanh``, ``sigmoid``, ``sign``) pick
the IEEE float function or the Value method: a rule written with them works to second order.

The subgradients at kinks follow PyTorch: ``relu'(0) = 0``, ``abs'(0) = 0``,
``leaky_relu'(0) = slope``, ``d(x ** 0)/dx = 0`` even at 0.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from operator import add, mul, neg, sub

from engine import ieee

# -- maths that works on floats (IEEE, never raising) and on Values (building a graph) ----------


def div(x, y):
    return ieee.div(x, y) if type(x) is float and type(y) is float else x / y


class _Over(float):
    """``1 / y`` where it overflows (a subnormal y): as a local derivative, its product with the
    upstream gradient g is ``g / y``, as PyTorch computes it, not ``inf * g``."""

    def __mul__(self, g):
        return ieee.div(g, self.y) if type(g) is float else float(self) * g

    __rmul__ = __mul__


def reciprocal(y):
    """``1 / y`` (``div(1.0, y)``), on floats a local derivative that never overflows in the
    chain rule: d(x / y)/dx and d(log x)/dx times g give ``g / y`` where ``1 / y`` is inf."""
    if type(y) is not float:
        return div(1.0, y)
    r = ieee.div(1.0, y)
    if r - r == 0.0 or y == 0.0 or y != y:  # finite, or truly infinite (1 / 0), or nan
        return r
    over = _Over(r)
    over.y = y
    return over


def power(x, y):
    return ieee.power(x, y) if type(x) is float and type(y) is float else x**y


def log(x):
    return ieee.log(x) if type(x) is float else x.log()


def exp(x):
    return ieee.exp(x) if type(x) is float else x.exp()


def sqrt(x):
    return ieee.sqrt(x) if type(x) is float else x.sqrt()


def tanh(x):
    return ieee.tanh(x) if type(x) is float else x.tanh()


def sigmoid(x):
    return ieee.sigmoid(x) if type(x) is float else x.sigmoid()


def sign(x):
    return ieee.sign(x) if type(x) is float else ieee.sign(x.data)  # piecewise constant


def sin(x):
    return ieee.sin(x) if type(x) is float else x.sin()


def cos(x):
    return ieee.cos(x) if type(x) is float else x.cos()


# -- forward functions of the n-ary operations --------------------------------------------------


def add_all(*xs: float) -> float:
    """x_1 + x_2 + ..., left to right in plain float additions (``sum()`` compensates its
    rounding from Python 3.12 on: the engine gives the same numbers on every version). It starts
    from x_1, not from 0.0, so that ``add_all(b, *products)`` is exactly ``affine``'s sum."""
    if not xs:
        return 0.0
    total = xs[0]
    for x in xs[1:]:
        total += x
    return total


def affine_width(count: int) -> int:
    """The n of an affine node with ``count`` operands (n weights, n inputs, one bias)."""
    if count % 2 == 0:
        raise ValueError(f"affine takes n weights, n inputs and one bias (2n + 1 operands), "
                         f"got {count} operands")
    return count // 2


def affine(*wxb: float) -> float:
    """w . x + b for operands (w_1..w_n, x_1..x_n, b): a neuron's pre-activation z, added as
    b + w_1 x_1 + ... + w_n x_n (the order of ``Value.sum([b, *products])``)."""
    n = affine_width(len(wxb))
    total = wxb[-1]
    for w, x in zip(wxb[:n], wxb[n:-1], strict=True):
        total += w * x
    return total


def mul_local(x, y, out):
    """d(x y)/dx = y, d(x y)/dy = x."""
    return (y, x)


def div_local(x, y, out):
    """d(x / y)/dx = 1 / y (times g: g / y, see ``reciprocal``), d(x / y)/dy = -out / y."""
    return (reciprocal(y), div(-out, y))


def leaky_relu_local(x, slope, out):
    """1 above 0, the slope at and below 0 (PyTorch's choice at the kink); the slope is fixed."""
    return (1.0 if x > 0 else slope, 0.0)


def ones_local(*xs_out):
    """A sum's local derivatives: 1 for each operand."""
    return (1.0,) * (len(xs_out) - 1)


def zeros_local(*xs_out):
    """``max_shift``'s: 0 for each operand (its value cancels; see ``max_shift``)."""
    return (0.0,) * (len(xs_out) - 1)


def affine_local(*wxb_out):
    """dz/dw_i = x_i, dz/dx_i = w_i, dz/db = 1."""
    n = (len(wxb_out) - 2) // 2
    return (*wxb_out[n:-2], *wxb_out[:n], 1.0)


def power_local(x, c, out):
    """d(x ** c)/dx = c x ** (c - 1), 0 for c = 0 (even at x = 0); c is a fixed exponent, so on
    Values its number is used: the derivative is an ``**`` node again, defined for x < 0 too."""
    if type(c) is not float:
        c = c.data
    return (c * power(x, c - 1) if c else 0.0, 0.0)


def pow_local(x, y, out):
    """d(x ** y)/dx = y x ** (y - 1), 0 for y = 0 (even at x = 0); d(x ** y)/dy = x ** y log x,
    0 at x = 0 unless y < 0 (or nan). On Values, y = 0 uses the formula unless x = 0 too: the
    constant 0 would lose d/dy (y x ** (y - 1)) = x ** -1 there, a second derivative."""
    dx = y * power(x, y - 1) if y or (type(y) is not float and x) else 0.0
    return (dx, out * log(x) if x or not y >= 0 else 0.0)  # not y >= 0: nan at a nan exponent


def leaky_relu(x: float, slope: float) -> float:
    return x if x > 0 else slope * x


def max_shift(*xs: float) -> float:
    """The largest x (0.0 if that is inf or nan): log-sum-exp's shift, ``log sum e^(x - m) + m``.
    The shift cancels in the value, so its derivatives are 0 by definition, not max's: a node
    of the graph (computed from each sample's data) through which no gradient flows."""
    largest = max(xs)
    return largest if math.isfinite(largest) else 0.0


# -- a neuron's node: its operands are stored in two tuples, and it has its own chain rule ------


def affine_operands(row: tuple, inputs: tuple) -> tuple:
    """An affine node stores its neuron's ``(w_1..w_n, b)`` and its layer's ``(x_1..x_n)``,
    tuples that it shares with other nodes; its operands are ``(w_1..w_n, x_1..x_n, b)``."""
    return (*row[:-1], *inputs, row[-1])


def affine_store(operands: tuple) -> tuple:
    """``affine_operands`` undone: ``(w_1..w_n, x_1..x_n, b)`` as the two groups a node stores,
    its row ``(w_1..w_n, b)`` and its inputs ``(x_1..x_n)``."""
    n = affine_width(len(operands))
    return (*operands[:n], operands[-1]), operands[n:-1]


POSITIONS = tuple(tuple(range(n)) for n in range(65))
"""``POSITIONS[n]`` is ``(0, ..., n - 1)``: CPython loops over a tuple of indices faster than over
``range`` or ``zip``, so the affine loops (a layer's forward, affine's chain rule) index it."""


def affine_chain_rule(z, g: float) -> None:
    """The chain rule through ``z = w . x + b``, written out for its stored form:
    ``w_i.grad += x_i * g``, ``x_i.grad += w_i * g``, ``b.grad += 1 * g``, in the order of the
    operands (a neuron of 16 inputs has 33: read in place, not copied into a tuple). ``g`` is
    z's gradient, a float (create_graph runs the rule, ``affine_local``, on Values instead)."""
    row, inputs = z._x, z._y
    n = len(inputs)
    positions = POSITIONS[n] if n < len(POSITIONS) else range(n)
    for i in positions:
        row[i].grad += inputs[i].data * g
    for i in positions:
        inputs[i].grad += row[i].data * g
    row[-1].grad += g


AFFINE_FAST_PATH = {"store": affine_store, "operands": affine_operands,
                    "chain_rule": affine_chain_rule}
"""How an ``affine`` node stores its operands (two shared groups) and its chain rule for them."""


# -- the table ----------------------------------------------------------------------------------

REAL, POSITIVE, NONZERO = "real", "positive", "nonzero"  # where an operand keeps the op smooth
SUM, PRODUCT, PREFIX, POWER, ATOM = 1, 2, 3, 4, 5  # how tightly a printed form binds


@dataclass(eq=False)
class Op:
    """One operation: all there is to know about it, beside its formula.

    - ``forward`` computes it on floats; ``local`` gives its local derivatives, a rule
      ``(*operands, out) -> (d out/d operand_1, ...)`` or a tuple of constants. A rule is plain
      arithmetic, so it also runs on Values (derivatives of derivatives).
    - ``domain`` says, per operand, where the op is defined and differentiable; ``kinks`` lists the
      points of the first operand where the derivative jumps (PyTorch's subgradient is used
      there); ``constants`` are operand positions that are fixed parameters (an exponent, a
      slope), to which no gradient flows; ``smooth=False`` marks an op that finite differences
      cannot check away from listed kinks (a step; ``max_shift``, whose derivative is 0 by
      definition). Gradient checkers and strategies read these.
    - How it prints: ``symbol`` is its Python spelling when it is written infix (``x + y``) or,
      with one operand, prefix (``-x``), and ``precedence`` how tightly that binds; other ops are
      written as calls, ``tanh(x)``. ``commutative`` lets drawings leave its operands unnumbered.
    - What an op is for another interpreter lives in that interpreter's own table, one row per
      op: PyTorch's in ``engine.testing.torch_ops.TORCH``, the compiler's array forms in
      ``engine.compiler``. ``torch`` is a registered op's PyTorch row, if it brings one
      (``torch(torch_module, *operands)``); ``TORCH`` has the built-in ones.
    - A fast path, for the op that needs one: ``store`` and ``operands`` say how its nodes store
      their operands otherwise (as two groups that nodes share, which the walk of the backward
      pass visits once): ``store(operands)`` gives the two groups, ``operands(x, y)`` spells
      them out; ``chain_rule(node, g)`` applies the chain rule to a node of the op whose
      gradient is the float ``g``, adding to its operands' grads exactly what the loop in
      ``backward`` adds. Passes that keep gradients in a table of their own (``engine.grad``,
      create_graph) run the rule. ``chain_rule_on_values`` is accepted and ignored (since 0.2,
      create_graph always runs the rule on Values).

    Every node holds its entry (``node.op`` is the entry's name): to plant a bug in an operation
    for a test, change a field of its entry and put it back (``engine.testing.planted``).
    """

    forward: Callable[..., float]
    local: Callable[..., tuple] | tuple[float, ...]
    arity: int | None  # None: any number of operands
    domain: tuple[str, ...] = ()  # per operand; missing entries mean REAL
    kinks: tuple[float, ...] = ()
    constants: tuple[int, ...] = ()
    smooth: bool = True  # False: the derivative also jumps off the listed kinks (steps, rounding)
    symbol: str | None = None
    precedence: int = ATOM
    commutative: bool = False
    torch: Callable[..., object] | None = None
    store: Callable[[tuple], tuple] | None = None
    operands: Callable[[tuple], tuple] | None = None
    chain_rule: Callable[..., None] | None = None
    chain_rule_on_values: bool = False  # ignored: see above
    name: str = ""  # its key in OPS, set by the table and by register

    def derivatives(self, *inputs_and_out):
        """The local derivatives at the given operand values (floats or Values) and output."""
        local = self.local
        return local if type(local) is tuple else local(*inputs_and_out)


def local_derivatives(node, on_values: bool = False) -> tuple[tuple, ...]:
    """Each operand of ``node`` with its local derivative d node / d operand, in operand order:
    ``((operand_1, local_1), (operand_2, local_2), ...)``, from the node's entry in the table. The
    one source that the backward pass, detect_anomaly, the film strip, explain and gradcheck read.

    With ``on_values`` the rule runs on the operand Values themselves, so the derivatives are
    Values in the graph (``backward(create_graph=True)``); otherwise on their numbers.
    """
    op = node._op
    local = op.local  # constants, or a rule: (*operands, out) -> derivatives
    if op.arity == 2:  # one and two operands, in the node's slots; unpacking checks the count
        x, y = node._x, node._y
        if type(local) is not tuple:
            local = local(x, y, node) if on_values else local(x.data, y.data, node.data)
        dx, dy = local
        return (x, dx), (y, dy)
    if op.arity == 1:
        x = node._x
        if type(local) is not tuple:
            local = local(x, node) if on_values else local(x.data, node.data)
        (dx,) = local
        return ((x, dx),)
    operands = node.parents
    if type(local) is not tuple:
        local = (local(*operands, node) if on_values
                 else local(*[x.data for x in operands], node.data))
    if len(local) != len(operands):
        raise ValueError(f"{op.name} gave {len(local)} local derivatives for {len(operands)} "
                         "operands")
    return tuple(zip(operands, local, strict=True))


# fmt: off
OPS: dict[str, Op] = {
    "+":          Op(add,          (1.0, 1.0), 2, symbol="+", precedence=SUM, commutative=True),
    "-":          Op(sub,          (1.0, -1.0), 2, symbol="-", precedence=SUM),
    "*":          Op(mul,          mul_local, 2, symbol="*", precedence=PRODUCT, commutative=True),
    "/":          Op(ieee.div,     div_local, 2, (REAL, NONZERO), symbol="/", precedence=PRODUCT),
    "**":         Op(ieee.power,   power_local, 2, (POSITIVE,), constants=(1,), symbol="**", precedence=POWER),  # noqa: E501
    "pow":        Op(ieee.power,   pow_local, 2, (POSITIVE, REAL), symbol="**", precedence=POWER),
    "neg":        Op(neg,          (-1.0,), 1, symbol="-", precedence=PREFIX),
    "abs":        Op(abs,          lambda x, out: (sign(x),), 1, kinks=(0.0,)),
    "exp":        Op(ieee.exp,     lambda x, out: (out,), 1),
    "log":        Op(ieee.log,     lambda x, out: (reciprocal(x),), 1, (POSITIVE,)),
    "sqrt":       Op(ieee.sqrt,    lambda x, out: (div(0.5, out),), 1, (POSITIVE,)),
    "sin":        Op(ieee.sin,     lambda x, out: (cos(x),), 1),
    "cos":        Op(ieee.cos,     lambda x, out: (-sin(x),), 1),
    "tanh":       Op(ieee.tanh,    lambda x, out: (1.0 - out * out,), 1),
    "sigmoid":    Op(ieee.sigmoid, lambda x, out: (out * (1.0 - out),), 1),
    "relu":       Op(ieee.relu,    lambda x, out: (0.0 if x <= 0 else 1.0,), 1, kinks=(0.0,)),
    "leaky_relu": Op(leaky_relu,   leaky_relu_local, 2, kinks=(0.0,), constants=(1,)),
    "sum":        Op(add_all,      ones_local, None, commutative=True),
    "max_shift":  Op(max_shift,    zeros_local, None, smooth=False),
    "affine":     Op(affine,       affine_local, None, commutative=True, **AFFINE_FAST_PATH),
}
# fmt: on
for _name, _op in OPS.items():
    _op.name = _name

BUILT_IN = frozenset(OPS)


def one_operand_op(name: str, what: str) -> Op:
    """The entry of a one-operand operation, by name (``"tanh"``); a ValueError names ``what``."""
    entry = OPS.get(name)
    if entry is None or entry.arity != 1:
        raise ValueError(f"{what} must name a one-operand operation, got {name!r}")
    return entry


def register(name: str, op: Op) -> None:
    """Add a user-defined operation to the table; ``engine.apply(name, ...)`` builds its nodes."""
    if not name or not isinstance(name, str):
        raise ValueError(f"an operation needs a non-empty str name, got {name!r}")
    if name in OPS:
        raise ValueError(f"operation {name!r} is already registered")
    if not isinstance(op, Op):
        raise TypeError(f"register needs an engine.derivatives.Op, not {type(op).__name__}")
    if not callable(op.forward) or not (callable(op.local) or type(op.local) is tuple):
        raise TypeError(f"operation {name!r}: forward must be callable and local a rule or a "
                        "tuple of constant derivatives")
    if op.chain_rule is not None and not _takes_two(op.chain_rule):
        raise TypeError(f"operation {name!r}: chain_rule must take (node, g), the node and its "
                        "gradient")
    if (op.store is None) != (op.operands is None):
        raise ValueError(f"operation {name!r}: store and operands go together (one undoes the "
                         "other)")
    if op.store is not None and op.arity in (1, 2):
        raise ValueError(f"operation {name!r}: a node of {op.arity} operand(s) stores them as "
                         "they are; store and operands are for operations of more operands")
    if type(op.local) is tuple and len(op.local) != op.arity:
        raise ValueError(f"operation {name!r}: {len(op.local)} constant derivatives for "
                         + ("any number of operands (give a rule instead)" if op.arity is None
                            else f"{op.arity} operands"))
    op.name = name
    OPS[name] = op


def _takes_two(function: Callable) -> bool:
    try:
        inspect.signature(function).bind(None, None)
    except TypeError:
        return False
    except ValueError:  # no signature to read (some built-ins): let backward find out
        return True
    return True


def unregister(name: str) -> None:
    """Remove a user-defined operation (graphs that still use it can no longer run backward)."""
    if name in BUILT_IN:
        raise ValueError(f"{name!r} is a built-in operation; only registered ones can be removed")
    if name not in OPS:
        raise ValueError(f"no registered operation {name!r}")
    del OPS[name]
