"""What gradcheck found: a row per input, the failed checks, notes, the culprit; and its text."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from engine.testing.programs import Program

MISMATCH = "mismatch"
KINK = "kink"
NOT_REENTRANT = "not_reentrant"
MISSING_CHAIN_RULE = "missing_chain_rule"
STALE_INTERIOR_GRADS = "stale_interior_grads"


@dataclass(frozen=True)
class Row:
    """One input: its value, the engine's gradient, the numeric one, and how far apart."""

    name: str
    value: float
    analytic: float
    numeric: float
    abs_err: float
    rel_err: float
    fd_err: float  # how much the numeric value itself may be off: |numeric(h) - numeric(h/2)|


def make_row(name: str, value: float, analytic: float, numeric: float, fd_err: float) -> Row:
    """A :class:`Row` with its errors worked out (rel_err inf when only the numeric one is 0)."""
    abs_err = abs(analytic - numeric)
    rel_err = abs_err / abs(numeric) if numeric else (0.0 if abs_err == 0 else math.inf)
    return Row(name, value, analytic, numeric, abs_err, rel_err, fd_err)


@dataclass(frozen=True)
class Failure:
    """One failed check: ``kind`` is one of the constants above, ``message`` explains it."""

    kind: str
    message: str


@dataclass(frozen=True)
class Culprit:
    """The node where a wrong gradient enters: a wrong local rule, or a wrong backward step."""

    node: str  # the node's name in the message (label, or v<k> by graph order)
    op: str  # its operation ("" for a leaf)
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class GradcheckResult:
    """What :func:`gradcheck` found; truthy when every check passed.

    ``rows`` has one :class:`Row` per input, ``failures`` the failed checks, ``notes`` remarks
    that did not fail (an allowed kink), ``culprit`` the node to look at, if one was found.
    ``check`` names the check (``gradgradcheck`` has a row per second derivative, and gives the
    point in ``point``, ``x0 = 0.5, x1 = -1.0``).
    """

    function: str
    rows: list[Row]
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    culprit: Culprit | None = None
    check: str = "gradcheck"
    point: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures

    def __bool__(self) -> bool:
        return self.ok

    @property
    def kinds(self) -> list[str]:
        return [failure.kind for failure in self.failures]

    def __str__(self) -> str:
        at = self.point or ", ".join(f"{row.name} = {row.value!r}" for row in self.rows)
        verdict = "passed" if self.ok else f"failed ({', '.join(dict.fromkeys(self.kinds))})"
        first = "input" if self.check == "gradcheck" else "derivative"
        lines = [f"{self.check} {verdict} for {self.function} at {at}",
                 _table(self.rows, first)]
        lines += [f"{failure.kind}: {failure.message}" for failure in self.failures]
        lines += [f"note: {note}" for note in self.notes]
        if self.culprit is not None:
            lines.append(f"culprit: {self.culprit}")
        return "\n".join(lines)


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` on failure; ``result`` holds the whole report."""

    def __init__(self, result: GradcheckResult) -> None:
        super().__init__(str(result))
        self.result = result


def _table(rows: list[Row], first: str = "input") -> str:
    header = (first, "value", "analytic", "numeric", "abs err", "rel err", "fd err")
    cells = [header] + [(r.name, f"{r.value:.6g}", f"{r.analytic:.6g}", f"{r.numeric:.6g}",
                         f"{r.abs_err:.2e}", f"{r.rel_err:.2e}", f"{r.fd_err:.1e}") for r in rows]
    widths = [max(len(row[k]) for row in cells) for k in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) if k == 0 else c.rjust(w)
                               for k, (c, w) in enumerate(zip(row, widths, strict=True)))
                     for row in cells)


def function_name(f: object) -> str:
    """How a message names f: a function's name, a Program's expression; never an address."""
    if isinstance(f, Program):
        return f.expression
    name = getattr(f, "__name__", None)
    if name == "<lambda>":
        return "f"
    return f"{name}()" if name else repr(f)
