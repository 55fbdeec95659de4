"""What the two programs share: each node's forward and local derivatives as text.

The forward comes from the op's row of the compiler's table (:mod:`engine.compiler.arrays`); the
local derivatives from the op's entry in the engine's table, its rule run on symbols (a row may
say otherwise, see ``ArrayOp.local``). An op with no row (a registered one) is called through
its own float functions, ``name(...)`` and ``d_name(...)[i]``; the batch program maps them
over the samples with ``np.vectorize``, slowly, and says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from engine.compiler.arrays import ARRAY_OPS
from engine.compiler.symbols import NotSymbolic, Symbol, call, derived, infix, literal
from engine.compiler.tracing import Trace
from engine.derivatives import OPS, PRODUCT
from engine.value import Value


def function_name(op: str) -> str:
    """The name a program calls a rowless op's forward by (its rule: ``d_`` before it); no
    node is named so (``Names`` keeps ``op_`` and ``d_op_`` for these)."""
    return "op_" + re.sub(r"\W", "_", op)


class Writer:
    """Writes a node's forward and its chain rule, given how to refer to nodes: ``ref(node)``
    is the text of a computed node, ``constant(node)`` says whether it is a number of the
    program."""

    def __init__(self, ref: Callable[[Value], str], constant: Callable[[Value], bool]) -> None:
        self.ref = ref
        self.constant = constant
        self.rowless: dict[str, str] = {}  # op name -> the name its forward is called by
        self._templates: dict[tuple, tuple[str, ...]] = {}

    def symbol(self, node: Value) -> Symbol | float:
        return node.data if self.constant(node) else Symbol(self.ref(node))

    def forward(self, node: Value) -> Symbol:
        """The expression computing ``node`` from its operands."""
        operands = [literal(self.symbol(p)) for p in node.parents]
        row = ARRAY_OPS.get(node.op)
        if row is None:
            return call(self._rowless(node.op), *operands)
        return row.forward(*operands)

    def locals(self, node: Value) -> tuple[Symbol, ...]:
        """The local derivatives d node / d operand, one expression per operand."""
        args = [self.symbol(p) for p in node.parents]
        out = Symbol(self.ref(node))
        entry = OPS[node.op]
        row = ARRAY_OPS.get(node.op)
        rule = row.local if row is not None and row.local is not None else entry.local
        if type(rule) is tuple:
            return tuple(literal(x) for x in rule)
        if row is not None:
            try:
                found = derived(rule, [*args, out])
            except NotSymbolic as error:
                raise TypeError(f"the rule of {node.op!r} cannot be written as a formula "
                                f"({error})") from error
            if len(found) != len(args):
                raise ValueError(f"the rule of {node.op!r} gave {len(found)} derivatives for "
                                 f"{len(args)} operands")
            return found
        name = "d_" + self._rowless(node.op)
        whole = call(name, *args, out).text
        return tuple(Symbol(f"{whole}[{i}]") for i in range(len(args)))

    def _rowless(self, op: str) -> str:
        if op not in self.rowless:  # "a-b" and "a_b" both read op_a_b: the second is numbered
            name, k = function_name(op), 1
            while name in self.rowless.values():
                k += 1
                name = f"{function_name(op)}_{k}"
            self.rowless[op] = name
        return self.rowless[op]


def returned(t: Trace, text: Callable[[Value], str],
             whole: Callable[[list[Value]], str | None] = lambda nodes: None) -> str:
    """What a program returns, each node written ``text(node)``: the output, or a tuple of the
    outputs (or ``whole(outputs)``, if it says how to write them at once); with ``has_aux``,
    the pair ``(outputs, aux)``."""
    def written(nodes: list[Value], single: bool) -> str:
        if single:
            return text(nodes[0])
        return whole(nodes) or f"({tuple_text([text(v) for v in nodes])})"
    out = written(t.outputs, t.single)
    return out if t.aux is None else f"({out}, {written(t.aux, t.aux_single)})"


def tuple_text(names: list[str]) -> str:
    """Names as a tuple is written: ``a, b``; one name keeps its comma, ``a,``."""
    return ", ".join(names) + ("," if len(names) == 1 else "")


def term(local: Symbol, g: str) -> str:
    """``local * g``, the chain rule's product, written as the engine computes it (1.0 * g is
    g, -1.0 * g is -g, bit for bit)."""
    if local.text == "1.0":
        return g
    if local.text == "-1.0":
        return f"-{g}"
    return infix(local, "*", Symbol(g), PRODUCT).text
