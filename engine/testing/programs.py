"""``Program``: a straight-line program over the table of operations, the recipe for a graph.

Nodes 0 .. n_inputs-1 are the inputs ``x0, x1, ...``; instruction k makes node ``v{n_inputs+k}``
from earlier nodes and constants, so nodes may be shared (diamonds). The output is one node, or by
default the sum of all nodes, so that every instruction matters and a failing program shrinks to a
small one. ``repr`` prints it as infix Python with the shared nodes named::

    v2 = tanh(x0); x0 + x1 + v2 + tanh(v2)  where x0 = 0.5, x1 = -1.0

The hypothesis strategies of :mod:`engine.strategies` draw Programs; gradcheck runs them.
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from engine.derivatives import ATOM, NONZERO, OPS, POSITIVE, POWER, PREFIX
from engine.pictures.notation import grouped as grouped  # engine.programs.grouped before 0.2
from engine.pictures.notation import written as written  # and engine.programs.written
from engine.value import Value, apply


class Constant(NamedTuple):
    """A number operand: becomes a constant leaf (or fills a fixed parameter, like an exponent)."""

    value: float


Operand = int | Constant  # an int is the index of an earlier node


@dataclass(frozen=True)
class Instruction:
    op: str  # a name in engine.derivatives.OPS
    operands: tuple[Operand, ...]


PYTHON_OPERATORS: dict[tuple[str, int], Callable[..., Value]] = {
    ("+", 2): operator.add, ("-", 2): operator.sub, ("*", 2): operator.mul,
    ("/", 2): operator.truediv, ("**", 2): operator.pow, ("-", 1): operator.neg,
}
"""Python's operators by (symbol, operand count): a Program builds an op whose entry has a
``symbol`` with the operator users write (``x ** 2``), any other op with ``engine.apply``."""


@dataclass(frozen=True, repr=False)
class Program:
    """Instructions over ``n_inputs`` inputs; ``point`` is a point where it is well behaved.

    Call it on Values (or numbers) to build its graph: ``program(*leaves) -> Value``, so it is a
    function gradcheck accepts. Nodes are labelled ``v2``, ``v3``, ... as in its repr: the names
    gradcheck gives the unlabelled nodes of the same function (see engine.testing.nodes).
    """

    n_inputs: int
    instructions: tuple[Instruction, ...]
    output: int | None = None  # a node index; None: the sum of all nodes
    point: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.n_inputs < 1:
            raise ValueError(f"a Program needs at least one input, got {self.n_inputs}")
        for k, ins in enumerate(self.instructions, start=self.n_inputs):
            if ins.op not in OPS:
                raise ValueError(f"instruction {self.name(k)}: unknown operation {ins.op!r}")
            arity = OPS[ins.op].arity
            if arity is not None and len(ins.operands) != arity:
                raise ValueError(f"instruction {self.name(k)}: {ins.op} takes {arity} operands, "
                                 f"got {len(ins.operands)}")
            for a in ins.operands:
                if not isinstance(a, Constant) and not 0 <= a < k:
                    raise ValueError(f"instruction {self.name(k)} uses node {a}, which is not an "
                                     "earlier node")
        if self.output is not None and not 0 <= self.output < self.size:
            raise ValueError(f"output {self.output} is not a node of the program")
        if self.point is not None and len(self.point) != self.n_inputs:
            raise ValueError(f"point has {len(self.point)} values for {self.n_inputs} inputs")

    @property
    def size(self) -> int:
        """The number of nodes: inputs plus instructions."""
        return self.n_inputs + len(self.instructions)

    def name(self, k: int) -> str:
        """Node k's name: ``x<k>`` for an input, ``v<k>`` for an instruction's node."""
        return f"x{k}" if k < self.n_inputs else f"v{k}"

    # -- running it -------------------------------------------------------------------------------
    def __call__(self, *inputs: Value | float) -> Value:
        """Build the graph with the engine on these inputs (numbers become leaves x0, x1, ...)."""
        self._check_inputs(inputs)
        leaves = [x if type(x) is Value else Value(x, label=self.name(i))
                  for i, x in enumerate(inputs)]
        nodes: list[Value] = list(leaves)
        for k, ins in enumerate(self.instructions, start=self.n_inputs):
            args = [a.value if isinstance(a, Constant) else nodes[a] for a in ins.operands]
            node = _build(ins.op, args)
            node.label = self.name(k)
            nodes.append(node)
        if self.output is not None:
            return nodes[self.output]
        out = Value.sum(nodes)
        out.label = "out"
        return out

    def build_with(self, inputs: Sequence[object], ops: Mapping[str, Callable[..., object]]
                   ) -> object:
        """Run the program on other objects (torch tensors, dual numbers): ``ops`` maps each op
        name to a function of the operands; the default output is summed with ``+``."""
        self._check_inputs(inputs)
        nodes = list(inputs)
        for ins in self.instructions:
            if ins.op not in ops:
                raise KeyError(f"no translation for the operation {ins.op!r}: add it to the "
                               f"ops mapping (known: {', '.join(ops)})")
            args = [a.value if isinstance(a, Constant) else nodes[a] for a in ins.operands]
            nodes.append(ops[ins.op](*args))
        if self.output is not None:
            return nodes[self.output]
        total = nodes[0]
        for node in nodes[1:]:
            total = total + node
        return total

    def evaluate(self, *inputs: float) -> list[float]:
        """Every node's value (inputs first), computed with the ops' float forward functions."""
        self._check_inputs(inputs)
        values = [float(x) for x in inputs]
        for ins in self.instructions:
            values.append(OPS[ins.op].forward(*_operand_values(ins, values)))
        return values

    def problem_at(self, inputs: Sequence[float], margin: float = 0.01,
                   max_magnitude: float = 1e3) -> str | None:
        """Why this point is a bad place to check gradients, or None if it is a good one.

        A good point keeps every operand inside its op's domain and ``margin`` away from its
        domain's edge and from the op's kinks, and every value finite, not subnormal and at most
        ``max_magnitude`` in size.
        """
        values = [float(x) for x in inputs]
        for i, x in enumerate(values):
            problem = value_problem(x, max_magnitude)
            if problem:
                return f"{self.name(i)} = {x!r} {problem}"
        for k, ins in enumerate(self.instructions, start=self.n_inputs):
            args = _operand_values(ins, values)
            result = OPS[ins.op].forward(*args)
            problem = operand_problem(ins.op, args, margin) or value_problem(result, max_magnitude)
            if problem:
                return f"{self.name(k)} = {self.expression_of(k)}: {problem}"
            values.append(result)
        return None

    def _check_inputs(self, inputs: Sequence[object]) -> None:
        if len(inputs) != self.n_inputs:
            raise TypeError(f"this program takes {self.n_inputs} inputs, got {len(inputs)}")

    # -- printing it ------------------------------------------------------------------------------
    def __repr__(self) -> str:
        text = self.expression
        if self.point is not None:
            at = ", ".join(f"{self.name(i)} = {x!r}" for i, x in enumerate(self.point))
            text += f"  where {at}"
        return text

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        """Hypothesis' (and IPython's) printer: the infix form, not the dataclass fields."""
        printer.text(repr(self))  # type: ignore[attr-defined]

    @property
    def expression(self) -> str:
        """Infix Python: nodes used more than once get a line ``vK = ...;``, others are inlined."""
        uses = [0] * self.size
        for ins in self.instructions:
            for a in ins.operands:
                if not isinstance(a, Constant):
                    uses[a] += 1
        outputs = range(self.size) if self.output is None else (self.output,)
        for k in outputs:
            uses[k] += 1
        named = {k for k in range(self.n_inputs, self.size) if uses[k] > 1}
        lines = [f"{self.name(k)} = {self._render(k, named, top=True)[0]}" for k in sorted(named)]
        if self.output is None:
            terms = [t if p > 1 else f"({t})" for t, p in
                     (self._render(k, named) for k in outputs)]
            lines.append(" + ".join(terms))
        else:
            lines.append(self._render(self.output, named)[0])
        return "; ".join(lines)

    def expression_of(self, k: int) -> str:
        return self._render(k, set(), top=True)[0]

    def _render(self, k: int, named: set[int], top: bool = False) -> tuple[str, int]:
        """Node k as (text, precedence); named nodes other than the one defined appear by name."""
        if k < self.n_inputs or (k in named and not top):
            return self.name(k), ATOM
        ins = self.instructions[k - self.n_inputs]
        parts = [_constant_text(a.value) if isinstance(a, Constant) else self._render(a, named)
                 for a in ins.operands]
        entry = OPS[ins.op]
        if entry.symbol and len(parts) == 2:
            return _infix(entry.symbol, entry.precedence, *parts), entry.precedence
        if entry.symbol and len(parts) == 1:
            text, p = parts[0]
            return (f"{entry.symbol}{text}" if p >= entry.precedence
                    else f"{entry.symbol}({text})"), entry.precedence
        return f"{ins.op}({', '.join(text for text, _ in parts)})", ATOM


def _build(op: str, args: list) -> Value:
    """A node of ``op``, built as users write it: with its Python operator if it has one."""
    symbol = OPS[op].symbol
    python = PYTHON_OPERATORS.get((symbol, len(args))) if symbol else None
    return python(*args) if python is not None else apply(op, *args)


def _infix(symbol: str, precedence: int, left: tuple[str, int], right: tuple[str, int]) -> str:
    """``left symbol right`` with the parentheses Python needs: ``**`` (POWER) groups to the
    right and binds tighter than a prefix minus, the other operators group to the left."""
    (left, lp), (right, rp) = left, right
    if precedence == POWER:
        left = left if lp > precedence else f"({left})"
        right = right if rp >= precedence else f"({right})"
    else:
        left = left if lp >= precedence else f"({left})"
        right = right if rp > precedence else f"({right})"
    return f"{left} {symbol} {right}"


def _constant_text(x: float) -> tuple[str, int]:
    return repr(x), (PREFIX if x < 0 or math.copysign(1.0, x) < 0 else ATOM)


def _operand_values(ins: Instruction, values: list[float]) -> list[float]:
    return [a.value if isinstance(a, Constant) else values[a] for a in ins.operands]


# -- what makes a point a good place to check gradients -----------------------------------------


def value_problem(x: float, max_magnitude: float = 1e3) -> str | None:
    """Why ``x`` is a bad value for a node (not finite, too large, subnormal), or None."""
    if not math.isfinite(x):
        return f"is {x}"
    if abs(x) > max_magnitude:
        return f"is {x:.3g}, larger than {max_magnitude:g}"
    if x != 0 and abs(x) < sys.float_info.min:
        return f"is {x!r}, a subnormal number"
    return None


def operand_problem(op: str, args: Sequence[float], margin: float = 0.01) -> str | None:
    """Why these operands are a bad place to check ``op``, or None (see :func:`operand_issue`)."""
    for j, x in enumerate(args):
        problem = operand_issue(op, j, x, margin)
        if problem:
            return problem
    return None


def operand_issue(op: str, j: int, x: float, margin: float = 0.01) -> str | None:
    """Why ``x`` is a bad operand ``j`` of ``op``: outside the op's domain, or within ``margin``
    of the domain's edge or (operand 0) of a kink; None if it is fine. Fixed parameters
    (constants, like an exponent) are not checked."""
    entry = OPS[op]
    if j in entry.constants:
        return None
    domain = entry.domain[j] if j < len(entry.domain) else "real"
    if domain == POSITIVE and not x >= margin:
        return f"operand {j + 1} of {op} is {x:.6g}, not positive (by {margin:g})"
    if domain == NONZERO and not abs(x) >= margin:
        return f"operand {j + 1} of {op} is {x:.6g}, within {margin:g} of 0"
    if j == 0:
        for kink in entry.kinks:
            if abs(x - kink) < margin:
                return f"operand 1 of {op} is {x:.6g}, within {margin:g} of its kink at {kink:g}"
    return None
