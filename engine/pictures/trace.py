"""The evaluation trace of a graph: the forward primal trace and the reverse adjoint trace.

In the notation of Baydin, Pearlmutter, Radul and Siskind, "Automatic differentiation in machine
learning: a survey" (JMLR 18, 2018, Tables 2 and 3): the n inputs are ``v_{1-n} .. v_0``, the
intermediate values ``v_1 .. v_m`` in the order they were computed, and the adjoint
``vbar_i = d y / d v_i``. The reverse trace is the backward pass written out: it visits the nodes
in the order ``backward()`` does (``engine.backward_order``) and each line is one use of the chain
rule, ``vbar_i = vbar_i + vbar_k * dv_k/dv_i``, with the local derivative ``dv_k/dv_i`` from the
table (``engine.derivatives.local_derivatives``): the numbers are exactly those of ``backward()``.

``trace_table(root)`` returns a :class:`Trace`: ``str()`` gives it as text, Jupyter shows it as an
HTML table, ``to_latex()`` writes it for lecture notes. After ``backward(create_graph=True)`` a
gradient is a Value like any other and its adjoint trace is again a trace: that is how second
derivatives are read (``trace_table(x.grad, inputs=[x])``).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from engine.derivatives import PREFIX, Op
from engine.graph_order import ancestors
from engine.pictures.filmstrip import replay_backward
from engine.pictures.notation import shown
from engine.value import Value

DEFAULT_MAX_VALUES = 300


@dataclass(frozen=True)
class Primal:
    """A line of the forward trace: ``v_index = op(operands) = data``. An input has no ``op``;
    each operand is the index of an earlier line or, for a constant, its number."""

    index: int
    value: Value
    op: Op | None
    operands: tuple[int | float, ...]
    operand_data: tuple[float, ...]
    data: float


@dataclass(frozen=True)
class Adjoint:
    """A line of the reverse trace: ``vbar_target = [vbar_target +] vbar_source * local``, with
    ``upstream = vbar_source`` (complete), ``before`` the running adjoint (None: the first
    contribution) and ``after`` the result. The seed ``vbar_root = 1`` has no ``source``."""

    target: int
    source: int | None
    local: float
    upstream: float
    before: float | None
    after: float


def trace_table(root: Value, *, inputs: Iterable[Value] | None = None, grad: float = 1.0,
                max_values: int = DEFAULT_MAX_VALUES) -> Trace:
    """The forward and reverse evaluation traces of the graph of ``root``.

    ``inputs`` are the leaves numbered ``v_{1-n} .. v_0``; by default the labelled leaves (every
    leaf if none is labelled). Other leaves are constants, written as numbers. ``max_values``
    guards against graphs too big to read as a table.
    """
    if not isinstance(root, Value):
        raise TypeError(f"trace_table needs an engine.Value, got {type(root).__name__}: "
                        f"{root!r:.60}")
    nodes = ancestors(root)
    if len(nodes) > max_values:
        raise ValueError(f"this graph has {len(nodes)} values, more than max_values="
                         f"{max_values}: trace a smaller graph or raise max_values")
    chosen = [root] if root.is_leaf else _inputs(nodes, inputs)
    interior = [v for v in nodes if not v.is_leaf]
    index = {v: i - len(chosen) + 1 for i, v in enumerate(chosen)}
    index.update({v: i + 1 for i, v in enumerate(interior)})
    return Trace(root, index, _primals(chosen, interior, index),
                 _adjoints(root, index, float(grad)))


def _inputs(nodes: list[Value], inputs: Iterable[Value] | None) -> list[Value]:
    """The leaves to number, oldest first."""
    leaves = [v for v in nodes if v.is_leaf]
    if inputs is None:
        labelled = [v for v in leaves if v.label]
        return labelled or leaves
    chosen = set()
    for x in inputs:
        if not isinstance(x, Value):
            raise TypeError(f"trace_table's inputs must be Values, got {type(x).__name__}")
        if not x.is_leaf or x not in set(leaves):
            raise ValueError(f"trace_table: input {x.label or x!r} is not a leaf of the graph")
        chosen.add(x)
    return [v for v in leaves if v in chosen]


def _primals(inputs: list[Value], interior: list[Value], index: dict[Value, int]) -> list[Primal]:
    lines = [Primal(index[v], v, None, (), (), v.data) for v in inputs]
    for v in interior:
        operands = v.parents
        lines.append(Primal(index[v], v, v.entry, tuple(index.get(p, p.data) for p in operands),
                            tuple(p.data for p in operands), v.data))
    return lines


def _adjoints(root: Value, index: dict[Value, int], grad: float) -> list[Adjoint]:
    """The backward pass replayed on numbers, in the engine's order, one line per contribution
    to a numbered value (a constant's adjoint is computed but not written)."""
    lines = [Adjoint(index[root], None, 1.0, grad, None, grad)]
    reached = {root}
    for frame in replay_backward(root, grad)[1:]:  # the film strip's frames: one per node
        for s in frame.steps:
            before = s.before if s.parent in reached else None  # None: its first term
            reached.add(s.parent)
            if s.parent in index and s.slot not in s.node.entry.constants:
                lines.append(Adjoint(index[s.parent], index[s.node], s.local, s.upstream,
                                     before, s.after))
    return lines


class Trace:
    """The evaluation trace: ``forward`` (Primal lines), ``reverse`` (Adjoint lines),
    ``index[v]`` (the i of ``v_i``), ``grads`` (each numbered value's adjoint)."""

    def __init__(self, root: Value, index: dict[Value, int], forward: list[Primal],
                 reverse: list[Adjoint]) -> None:
        self.root = root
        self.index = index
        self.forward = forward
        self.reverse = reverse
        self.inputs = [line.value for line in forward if line.op is None]
        by_index = {line.index: line.value for line in forward}
        self.grads = {by_index[line.target]: line.after for line in reverse}

    def rows(self, style: Style) -> tuple[list[list[str]], list[list[str]]]:
        """The cells of both traces in ``style``: ``[lhs, expression, numbers, value]`` per
        line (an empty string where a line has no such part)."""
        forward = [_primal_row(line, style) for line in self.forward]
        reverse = [_adjoint_row(line, style) for line in self.reverse]
        for x in self.inputs:  # the survey ends with xbar_1 = vbar_-1
            if x.label:
                reverse.append([style.input(x.label, bar=True),
                                style.equal(style.v(self.index[x], bar=True)), "",
                                style.equal(style.number(self.grads.get(x, 0.0)))])
        return forward, reverse

    def text(self) -> str:
        """Both traces as aligned plain text, each line numbered."""
        forward, reverse = self.rows(TEXT)
        return (_text_block("Forward primal trace", forward) + "\n\n"
                + _text_block("Reverse adjoint trace (the order of backward)", reverse))

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return (f"<Trace: {len(self.inputs)} inputs, {len(self.forward) - len(self.inputs)} "
                f"intermediate values, {len(self.reverse)} adjoint steps>")

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        printer.text(self.text())  # IPython's plain-text display: the table, not the summary

    def _repr_html_(self) -> str:
        """Both traces as two styled HTML tables, side by side when there is room."""
        forward, reverse = self.rows(HTML)
        return ('<div class="dg-trace" style="display:flex;flex-wrap:wrap;gap:24px;'
                'align-items:flex-start">' + _html_table("Forward primal trace", forward)
                + _html_table("Reverse adjoint trace", reverse) + "</div>")

    def to_latex(self) -> str:
        """Both traces as one LaTeX display (an ``array`` in ``\\[ .. \\]``; no package needed)
        for lecture notes; MathJax renders it too."""
        forward, reverse = self.rows(LATEX)

        def block(title: str, rows: list[list[str]]) -> list[str]:
            head = [rf"& \textbf{{{title}}} & & \\"]
            return head + [" & ".join(row) + r" \\" for row in rows]

        body = [*block("Forward primal trace", forward), r"\\[-4pt]",
                *block("Reverse adjoint trace", reverse)]
        return "\\[\n\\begin{array}{rlll}\n" + "\n".join(body) + "\n\\end{array}\n\\]"


# -- spelling: one class per output format ------------------------------------------------------


class Style:
    """How a format writes the pieces of a trace line (plain text here)."""

    times, plus, equals = " * ", " + ", "= "

    def v(self, i: int, bar: bool = False) -> str:
        return f"{'vbar' if bar else 'v'}_{i}"

    def partial(self, k: int, i: int) -> str:
        return f"dv_{k}/dv_{i}"

    def input(self, label: str, bar: bool = False) -> str:
        return shown(label) + ("bar" if bar else "")

    def number(self, x: float) -> str:
        return _short(x)

    def paren(self, text: str) -> str:
        return f"({text})"

    def infix(self, op: Op, a: str, b: str) -> str:
        return f"{a} {self.symbol(op)} {b}"

    def prefix(self, op: Op, a: str) -> str:
        return f"{self.symbol(op)}{a}"

    def call(self, op: Op, args: Sequence[str]) -> str:
        return f"{shown(op.name)}({', '.join(args)})"

    def symbol(self, op: Op) -> str:
        """An operation's symbol (a registered op's is any text) written for this format."""
        return shown(op.symbol)

    def equal(self, text: str) -> str:
        return f"{self.equals}{text}" if text else ""


class HtmlStyle(Style):
    times, plus, equals = " &times; ", " + ", "= "

    def v(self, i: int, bar: bool = False) -> str:
        return f"{_overlined('v') if bar else '<i>v</i>'}<sub>{_minus(str(i))}</sub>"

    def partial(self, k: int, i: int) -> str:
        return f"&part;{self.v(k)}/&part;{self.v(i)}"

    def input(self, label: str, bar: bool = False) -> str:
        base, sub = _split_label(shown(label))
        base = html.escape(base)
        return (_overlined(base) if bar else f"<i>{base}</i>") + (f"<sub>{sub}</sub>" if sub
                                                                   else "")

    def number(self, x: float) -> str:
        return _minus(_short(x))

    def infix(self, op: Op, a: str, b: str) -> str:
        if op.symbol == "**":
            return f"{a}<sup>{b}</sup>"
        return f"{a} {self.symbol(op)} {b}"

    def prefix(self, op: Op, a: str) -> str:
        return f"{self.symbol(op)}{a}"

    def call(self, op: Op, args: Sequence[str]) -> str:
        return f"{html.escape(shown(op.name))}({', '.join(args)})"

    def symbol(self, op: Op) -> str:
        return {"*": "&times;", "-": "&minus;"}.get(op.symbol) or html.escape(shown(op.symbol))


class LatexStyle(Style):
    times, plus, equals = r" \times ", " + ", "= "
    calls: ClassVar[dict[str, str]] = {"log": r"\ln", "exp": r"\exp", "sin": r"\sin",
                                       "cos": r"\cos", "tanh": r"\tanh", "sigmoid": r"\sigma"}

    def v(self, i: int, bar: bool = False) -> str:
        return (r"\bar{v}" if bar else "v") + f"_{{{i}}}"

    def partial(self, k: int, i: int) -> str:
        return rf"\partial {self.v(k)}/\partial {self.v(i)}"

    def input(self, label: str, bar: bool = False) -> str:
        base, sub = _split_label(label)
        base = base if re.fullmatch(r"[A-Za-z]", base) else rf"\text{{{_latex_text(base)}}}"
        return (rf"\bar{{{base}}}" if bar else base) + (f"_{{{sub}}}" if sub else "")

    def paren(self, text: str) -> str:
        return rf"\left({text}\right)"

    def infix(self, op: Op, a: str, b: str) -> str:
        if op.symbol == "**":
            return f"{{{a}}}^{{{b}}}"
        return f"{a} {self.symbol(op)} {b}"

    def prefix(self, op: Op, a: str) -> str:
        return f"{self.symbol(op)}{a}"

    def symbol(self, op: Op) -> str:
        """``\\times`` for ``*``; a symbol of plain maths characters as it is; any other
        (a registered op's) as escaped text."""
        if op.symbol == "*":
            return r"\times"
        if re.fullmatch(r"[-+/=<>|!:.,@]+", op.symbol):
            return op.symbol
        return rf"\mathbin{{\text{{{_latex_text(op.symbol)}}}}}"

    def call(self, op: Op, args: Sequence[str]) -> str:
        if op.name == "sqrt":
            return rf"\sqrt{{{args[0]}}}"
        if op.name == "abs":
            return rf"\lvert {args[0]} \rvert"
        name = self.calls.get(op.name)
        if name and len(args) == 1 and re.fullmatch(r"[^\s-]\S*", args[0]):
            return f"{name} {args[0]}"  # \ln v_{-1}, as the survey writes it
        name = name or rf"\operatorname{{{_latex_text(op.name)}}}"
        return rf"{name}\left({', '.join(args)}\right)"


TEXT, HTML, LATEX = Style(), HtmlStyle(), LatexStyle()


def _primal_row(line: Primal, style: Style) -> list[str]:
    value = style.equal(style.number(line.data))
    if line.op is None:
        label = line.value.label
        return [style.v(line.index), style.equal(style.input(label)) if label else "", "", value]
    names = [(style.v(x), 5) if type(x) is int else _constant(x, style) for x in line.operands]
    numbers = [_constant(x, style) for x in line.operand_data]
    return [style.v(line.index), style.equal(_spelled(line.op, names, style)),
            style.equal(_spelled(line.op, numbers, style)), value]


def _adjoint_row(line: Adjoint, style: Style) -> list[str]:
    after = style.equal(style.number(line.after))
    target = style.v(line.target, bar=True)
    if line.source is None:
        return [target, "", "", after]
    term = style.v(line.source, bar=True) + style.times + style.partial(line.source, line.target)
    numbers = style.number(line.upstream) + style.times + _factor(line.local, style)
    if line.before is not None:
        term = target + style.plus + term
        numbers = style.number(line.before) + style.plus + numbers
    return [target, style.equal(term), style.equal(numbers), after]


def _constant(x: float, style: Style) -> tuple[str, int]:
    """A number as an operand, with how tightly it binds (a negative one needs parentheses)."""
    return style.number(x), (0 if x < 0 or str(x).startswith("-") else 5)


def _factor(x: float, style: Style) -> str:
    text, precedence = _constant(x, style)
    return style.paren(text) if precedence < PREFIX else text


def _spelled(op: Op, args: list[tuple[str, int]], style: Style) -> str:
    """``op`` applied to ``args`` (text, precedence): infix, prefix or a call, as its table entry
    says; an operand that binds less tightly than the operator gets parentheses."""
    if op.symbol is not None and len(args) in (1, 2):
        texts = [text if prec > op.precedence else style.paren(text) for text, prec in args]
        return style.prefix(op, *texts) if len(texts) == 1 else style.infix(op, *texts)
    return style.call(op, [text for text, _ in args])


def _short(x: float) -> str:
    """A number as a teacher writes it: up to 4 decimals, no trailing zeros (``2``, ``0.6931``),
    scientific notation for the very large and the very small."""
    if not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-4):
        return f"{x:.4e}"
    text = f"{x:.4f}".rstrip("0").rstrip(".")
    return text


def _split_label(label: str) -> tuple[str, str]:
    """``x1`` -> (``x``, ``1``), ``x_2`` -> (``x``, ``2``); other labels stay whole."""
    match = re.fullmatch(r"([A-Za-z]+)_?(\d+)", label)
    return (match[1], match[2]) if match else (label, "")


def _overlined(text: str) -> str:
    return f'<i style="text-decoration:overline">{text}</i>'


def _minus(text: str) -> str:
    return text.replace("-", "&minus;")


_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {"~": r"\textasciitilde{}",
                                                     "^": r"\textasciicircum{}",
                                                     "\\": r"\textbackslash{}"}


def _latex_text(text: str) -> str:
    """``text`` for LaTeX's text mode: one line (a blank line would end the paragraph inside
    the array), its special characters escaped."""
    return "".join(_LATEX_SPECIAL.get(c, c) for c in shown(text))


def _text_block(title: str, rows: list[list[str]]) -> str:
    widths = [max((len(row[c]) for row in rows), default=0) for c in range(4)]
    lines = [title]
    for n, row in enumerate(rows, 1):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append(f"{n:>3}  " + "  ".join(cells).rstrip())
    return "\n".join(lines)


_CELL = "padding:2px 10px;border-bottom:1px solid #e2e2e2;white-space:nowrap"


def _html_table(title: str, rows: list[list[str]]) -> str:
    head = ('<table style="border-collapse:collapse;font-family:Georgia,\'Times New Roman\','
            'serif;font-size:15px;line-height:1.5">'
            f'<caption style="text-align:left;font-weight:bold;font-family:Helvetica,Arial,'
            f'sans-serif;padding-bottom:4px">{title}</caption>')
    body = []
    for n, row in enumerate(rows, 1):
        shade = "background:#f6f8fa;" if n % 2 == 0 else ""
        cells = [f'<td style="{_CELL};color:#888;text-align:right">{n}</td>',
                 f'<td style="{_CELL};text-align:right">{row[0]}</td>',
                 f'<td style="{_CELL}">{row[1]}</td>', f'<td style="{_CELL}">{row[2]}</td>',
                 f'<td style="{_CELL};text-align:right;font-variant-numeric:tabular-nums">'
                 f'{row[3]}</td>']
        body.append(f'<tr style="{shade}">' + "".join(cells) + "</tr>")
    return head + "".join(body) + "</table>"
