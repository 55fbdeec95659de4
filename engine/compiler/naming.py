"""The names of a program's variables: the graph's own names where Python can use them.

A node is called by the name it is given (``names=``), else by its label, when that is a Python
name (``loss``) or a name with integer indices (``W1[2,1]``, ``z1[2]``: then ``W1`` is a dict
in the program, and the line reads as the lecture notes write it). Other nodes are ``v1, v2,
...`` in creation order, and their labels, if any, are comments. ``g`` before a name is its
gradient (``gW1[2,1]``, ``gv3``). Names that a program uses for its own functions, Python's
keywords and two nodes' clashing names are never reused.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Mapping

from engine.value import Value

FUNCTION_PREFIXES = ("op_", "d_op_")  # the names of the functions of ops with no array form
_INDEXED = re.compile(r"\s*([A-Za-z_]\w*)\s*\[\s*(-?\d+(?:\s*,\s*-?\d+)*)\s*\]\s*")


class Names:
    """Names for the nodes of a trace: ``name[node]`` is a Python expression that can be
    assigned to; ``grad(node)`` the name of its gradient."""

    def __init__(self, reserved: set[str], given: Mapping[Value, str] | None = None) -> None:
        self.given = given or {}
        self.reserved = set(reserved) | set(keyword.kwlist) | set(dir(builtins))
        self.plain: set[str] = set()  # names used as variables
        self.dicts: set[str] = set()  # names used as dicts of indexed entries
        self.used: set[str] = set()  # full names given (W1[2,1])
        self.name: dict[Value, str] = {}
        self.comment: dict[Value, str] = {}
        self.count = 0

    def _free(self, base: str) -> bool:
        """Whether ``base`` and ``g<base>`` are both unused (and ``base`` no other's gradient)."""
        taken = (base, f"g{base}", base[1:] if base.startswith("g") else None)
        if base.startswith(FUNCTION_PREFIXES):  # a registered op's functions (writing.py)
            return False
        return base not in self.reserved and f"g{base}" not in self.reserved and not any(
            x in self.plain or x in self.dicts for x in taken)

    def give(self, node: Value, wanted: str | None) -> str:
        """Name ``node`` by ``wanted`` if Python can, else ``v<k>`` (``wanted`` then a comment)."""
        name = self._usable(wanted) if wanted else None
        if name is None:
            if wanted:  # a comment is one line of source: a line break or a NUL is escaped
                self.comment[node] = wanted if wanted.isprintable() else repr(wanted)[1:-1]
            while True:
                self.count += 1
                candidate = f"v{self.count}"
                if self._free(candidate):
                    break
            self.plain.add(candidate)
            name = candidate
        self.name[node] = name
        self.used.add(name)
        return name

    def _usable(self, wanted: str) -> str | None:
        if wanted.isidentifier():
            if wanted in self.plain or wanted in self.used or not self._free(wanted):
                return None
            self.plain.add(wanted)
            return wanted
        match = _INDEXED.fullmatch(wanted)
        if not match:
            return None
        base = match.group(1)
        index = ",".join(i.strip() for i in match.group(2).split(","))
        full = f"{base}[{index}]"
        if full in self.used:
            return None
        if base not in self.dicts:
            if not self._free(base):
                return None
            self.dicts.add(base)
        return full

    def name_params(self, params: list[Value]) -> None:
        """Name the parameters not named yet (``p<k>`` for the k-th without a name)."""
        for i, p in enumerate(params):
            if p not in self.name:
                self.give(p, self.given.get(p) or p.label or f"p{i}")

    def fixed(self, node: Value, text: str) -> None:
        """``node`` is read as ``text`` (an input, ``x[0]``), which is not a variable."""
        self.name[node] = text

    def grad(self, node: Value) -> str:
        return "g" + self.name[node]
