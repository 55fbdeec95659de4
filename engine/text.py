"""How the pictures write things: numbers, ``dy/dx``, and plain label text for DOT.

Shared by the drawings (``engine.draw``), the film strip, explain and ``nn``'s network diagram,
so that a number reads the same in every picture and every caption.
"""

from __future__ import annotations

import math
import re


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
    """Plain DOT label text: backslashes escaped, lines left-aligned (needs ``graphviz``)."""
    import graphviz

    lines = [one_line(line) for line in str(text).split("\n")]
    escaped = [graphviz.escape(line) for line in lines]
    return graphviz.nohtml("\\l".join(escaped) + ("\\l" if len(lines) > 1 else ""))


def one_line(text: str) -> str:
    """Control characters (newlines included) as spaces: one line per record field."""
    return "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in str(text))
