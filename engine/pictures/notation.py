"""The notation of the pictures: numbers, ``dy/dx``, an operation written with its operands
(``a * b``, ``tanh(a)``), and plain label text for DOT.

Shared by the drawings (``engine.pictures.draw``), the film strip, explain, the trace table,
``nn``'s network diagram and gradcheck's messages, so that a node reads the same everywhere.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from engine.derivatives import OPS


def number(x: float) -> str:
    """A number in the fixed format of the drawings: 4 decimals, scientific beyond 1e6."""
    if math.isfinite(x) and abs(x) >= 1e6:
        return f"{x:.4e}"
    return f"{x:.4f}"


def derivative(of: str, by: str) -> str:
    """``dy/dx``, with parentheses around names that are not one token: ``d(a * b)/da``."""
    def d(name: str) -> str:
        return "d" + name if _TOKEN.fullmatch(name) else f"d({name})"
    return f"{d(of)}/{d(by)}"


_TOKEN = re.compile(r"[\w#.+,\[\]-]+")


def dot_text(text: str) -> str:
    """Plain DOT label text: backslashes escaped (``\\N`` would be the node's name), ``&``
    written ``&amp;`` (Graphviz reads entities in every label), lines left-aligned (needs
    ``graphviz``)."""
    import graphviz

    lines = [shown(line) for line in str(text).split("\n")]
    escaped = [graphviz.escape(line.replace("&", "&amp;")) for line in lines]
    return graphviz.nohtml("\\l".join(escaped) + ("\\l" if len(lines) > 1 else ""))


def one_line(text: str) -> str:
    """Control characters (newlines included) as spaces: one line per record field."""
    return "".join(" " if ord(c) < 32 or 127 <= ord(c) < 160 else c for c in str(text))


LONGEST = 500  # characters of one label shown; Graphviz refuses labels over 16 KiB


def shown(text: str, longest: int = LONGEST) -> str:
    """``text`` as one line any output can carry: control characters as spaces, a lone
    surrogate (not UTF-8) as U+FFFD, and past ``longest`` characters cut, saying how many."""
    text = one_line(text)
    if len(text) > longest:
        text = f"{text[:longest]}... ({len(text) - longest} more characters)"
    return _SURROGATE.sub("\ufffd", text)


def html_text(text: str) -> str:
    """Text for a Graphviz HTML-like label: one line (``shown``), HTML-escaped, and backslashes
    doubled: Graphviz expands ``\\N`` (the node's name) and ``\\G`` even there."""
    import html

    return html.escape(shown(text)).replace("\\", "\\\\")


def printable(text: str) -> str:
    """``text`` with each lone surrogate (a str that is not UTF-8) as U+FFFD, lines kept: for
    the text outputs (captions, explanations), which notebooks send as UTF-8."""
    return _SURROGATE.sub("\ufffd", str(text))


_SURROGATE = re.compile("[\ud800-\udfff]")


def written(op: str, operands: Sequence[str]) -> str:
    """An operation written with its operands' names: ``a * b``, ``-a``, ``tanh(a)``,
    ``leaky_relu(a, 0.01)``; an operand that is itself an infix expression gets parentheses.
    The op's entry says how: its ``symbol``, infix with two operands and prefix with one."""
    entry = OPS.get(op)
    symbol = entry.symbol if entry is not None else None
    if symbol and len(operands) == 2:
        return f"{grouped(operands[0])} {symbol} {grouped(operands[1])}"
    if symbol and len(operands) == 1:
        return f"{symbol}{grouped(operands[0])}"
    return f"{op}({', '.join(operands)})"


def grouped(name: str) -> str:
    """``name`` in parentheses if it is an infix expression (``a * b``), to use as an operand or
    before ``.grad``; ``tanh(a * b)`` and ``W2[5,3]`` stay as they are."""
    depth = 0
    for c in name:
        depth += (c in "([") - (c in ")]")
        if c == " " and depth == 0:
            return f"({name})"
    return name
