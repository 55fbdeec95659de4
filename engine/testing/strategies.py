"""Hypothesis strategies for gradient tests, built from the table of operations.

Every strategy reads the metadata each op declares in :mod:`engine.derivatives` (arity, domain of
each operand, kinks, fixed parameters, ``smooth``), so an op added with ``register`` is drawn too,
with no change here. Drawn points keep every operand inside its op's domain and a margin away from
its edge and from kinks, and every value finite, not subnormal and bounded: hypothesis' favourite
inputs (zeros, equal pairs, tiny floats) would otherwise sit on relu's kink or under ``log``'s
domain and make finite differences meaningless.

- :func:`finite_floats`, :func:`leaves`: numbers and leaf Values.
- :func:`graphs`: DAG programs (each instruction may use any earlier node; the output is the sum
  of all nodes), printed as infix Python. :func:`expressions`: trees. :func:`points`: other good
  points for a program.
- ``nn.strategies`` builds on these: random networks (with seeds) and small data sets for ``nn``.
- :func:`register_profiles`: the ``dev``, ``ci`` and ``thorough`` settings profiles.

Needs hypothesis: ``pip install "deltagrad[strategies]"``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

try:
    from hypothesis import HealthCheck, reject, settings
    from hypothesis import strategies as st
    from hypothesis.errors import InvalidArgument
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("engine.strategies needs hypothesis: pip install \"deltagrad[strategies]\" "
                      "(or pip install hypothesis)") from error

from engine.derivatives import OPS
from engine.testing.programs import (
    Constant,
    Instruction,
    Program,
    operand_issue,
    value_problem,
)
from engine.value import Value

__all__ = ["PROFILES", "expressions", "finite_floats", "graphs", "leaves", "op_names", "points",
           "register_profiles"]

CONSTANTS = (2.0, 0.5, 3.0, -1.0, 0.1, 1.5)
"""Numbers drawn for constant operands and fixed parameters (exponents, slopes); the first is
where shrinking goes."""

N_ARY_SIZES = (1, 3, 5)
"""Operand counts tried for ops of any arity (``sum``, ``affine``: w, x and b need an odd count)."""

_INPUT_COUNTS = st.integers(1, 3)


# -- numbers and leaves -------------------------------------------------------------------------


def finite_floats(lo: float = -2.0, hi: float = 2.0, *, avoid: Sequence[float] = (),
                  margin: float = 0.01) -> st.SearchStrategy[float]:
    """Floats in [lo, hi], never nan, inf or subnormal, and at least ``margin`` from each point of
    ``avoid`` (a draw that lands closer is pushed out to the nearest number that is far enough and
    still in [lo, hi], not rejected, so nothing is filtered). Raises ``InvalidArgument`` if every
    number in [lo, hi] is within ``margin`` of a point of ``avoid``."""
    if not lo < hi:
        raise ValueError(f"finite_floats needs lo < hi, got lo={lo!r}, hi={hi!r}")
    if not (isinstance(margin, (int, float)) and 0 <= margin < math.inf):
        raise ValueError(f"finite_floats needs a finite margin >= 0, got {margin!r}")
    base = st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    gaps = _gaps(sorted(float(a) for a in avoid), margin)
    if not gaps:
        return base
    if any(left < lo and right > hi for left, right in gaps):
        raise InvalidArgument(
            f"finite_floats(lo={lo!r}, hi={hi!r}, avoid={tuple(avoid)!r}, margin={margin!r}) can "
            f"draw nothing: every number in [{lo!r}, {hi!r}] is within margin={margin!r} of a "
            "point of avoid; widen [lo, hi] or use a smaller margin")

    def push_out(x: float) -> float:
        for left, right in gaps:
            if left < x < right:  # too close: to the nearer edge that is inside [lo, hi]
                inside = [edge for edge in (right, left) if lo <= edge <= hi]
                return min(inside, key=lambda edge: abs(edge - x))
        return x

    return base.map(push_out)


def _gaps(avoid: list[float], margin: float) -> list[tuple[float, float]]:
    """The stretches too close to a point of ``avoid`` (sorted), as (left, right): the nearest
    numbers on either side that are at least ``margin`` away. Overlapping stretches are merged."""
    gaps: list[tuple[float, float]] = []
    for a in avoid if margin > 0 else ():
        left, right = a - margin, a + margin
        while a - left < margin:  # rounding may leave a - (a - margin) just under margin
            left = math.nextafter(left, -math.inf)
        while right - a < margin:
            right = math.nextafter(right, math.inf)
        if gaps and left < gaps[-1][1]:
            left, right = gaps[-1][0], max(right, gaps[-1][1])
            gaps.pop()
        gaps.append((left, right))
    return gaps


def leaves(lo: float = -2.0, hi: float = 2.0, *, label: str = "",
           avoid: Sequence[float] = ()) -> st.SearchStrategy[Value]:
    """Leaf Values whose data come from :func:`finite_floats`."""
    return finite_floats(lo, hi, avoid=avoid).map(lambda x: Value(x, label=label))


def op_names(*, kinks: bool = True, arity: int | None = None) -> list[str]:
    """The ops finite differences can check (``smooth``), in table order; read at call time, so
    user-registered ops are included. ``kinks=False`` leaves out relu, abs, ...; ``arity``
    keeps ops of that many operands (ops of any arity included)."""
    return [name for name, op in OPS.items()
            if getattr(op, "smooth", True) and (kinks or not op.kinks)
            and (arity is None or op.arity in (None, arity))]


# -- programs -----------------------------------------------------------------------------------


@st.composite
def graphs(draw: st.DrawFn, inputs: int | st.SearchStrategy[int] = _INPUT_COUNTS,
           max_nodes: int = 8, ops: Sequence[str] | None = None,
           values: st.SearchStrategy[float] | None = None, *, margin: float = 0.01,
           max_magnitude: float = 1e3) -> Program:
    """A DAG program and a good point for it (``program.point``).

    Up to ``max_nodes`` instructions (each slot may stay empty), each an op of ``ops`` (default
    :func:`op_names`) applied to any earlier nodes, so interior nodes are shared and reached by
    paths of different lengths (the diamonds that catch a backward pass in the wrong order).
    The output is the sum of all nodes. Operands are chosen among the nodes whose value at the
    point suits the op; an instruction no node suits, or whose result is not finite, too large
    or subnormal, is left out. So every intermediate is good at ``program.point`` by
    construction.
    """
    n_inputs = draw(inputs) if isinstance(inputs, st.SearchStrategy) else inputs
    names = _op_list(ops)
    point = [draw(values or finite_floats()) for _ in range(n_inputs)]
    values_so_far = list(point)
    instructions: list[Instruction] = []
    for _ in range(max_nodes):  # each slot shrinks to "empty" on its own: minimal programs
        drawn = draw(_instructions(names, tuple(values_so_far), margin, max_magnitude))
        if drawn is not None:
            instructions.append(drawn[0])
            values_so_far.append(drawn[1])
    return Program(n_inputs, tuple(instructions), point=tuple(point))


@st.composite
def expressions(draw: st.DrawFn, inputs: int | st.SearchStrategy[int] = _INPUT_COUNTS,
                max_leaves: int = 8, ops: Sequence[str] | None = None,
                values: st.SearchStrategy[float] | None = None, *, margin: float = 0.01,
                max_magnitude: float = 1e3) -> Program:
    """An expression tree (``st.recursive``) and a good point for it; the output is the root.

    Each interior node is used once, so trees never share interior nodes (only inputs repeat):
    they cannot catch a backward pass in the wrong order, which :func:`graphs` can. An op whose
    operands or result would be bad at the point is replaced by its first operand.
    """
    n_inputs = draw(inputs) if isinstance(inputs, st.SearchStrategy) else inputs
    names = _op_list(ops)

    def extend(children: st.SearchStrategy) -> st.SearchStrategy:
        return st.sampled_from(names).flatmap(lambda op: st.tuples(st.just(op), st.tuples(*[
            st.sampled_from(CONSTANTS).map(Constant) if j in OPS[op].constants else children
            for j in range(_arity_for_tree(op))])))

    tree = draw(st.recursive(st.integers(0, n_inputs - 1), extend, max_leaves=max_leaves))
    point = [draw(values or finite_floats()) for _ in range(n_inputs)]
    nodes = list(point)
    instructions: list[Instruction] = []

    def compile_(t: object) -> int:  # the node index of subtree t, appending its instructions
        if isinstance(t, int):
            return t
        op, children = t
        operands = [c if isinstance(c, Constant) else compile_(c) for c in children]
        args = _values(operands, nodes)
        bad = any(operand_issue(op, j, x, margin) for j, x in enumerate(args))
        result = None if bad else OPS[op].forward(*args)
        if result is None or value_problem(result, max_magnitude):
            return operands[0]  # operand 0 is never a constant
        instructions.append(Instruction(op, tuple(operands)))
        nodes.append(result)
        return len(nodes) - 1

    output = compile_(tree)
    return Program(n_inputs, tuple(instructions), output=output, point=tuple(point))


@st.composite
def points(draw: st.DrawFn, program: Program, values: st.SearchStrategy[float] | None = None, *,
           margin: float = 0.01, max_magnitude: float = 1e3, tries: int = 5) -> tuple[float, ...]:
    """Another good point for ``program`` (see ``Program.problem_at``).

    Up to ``tries`` random points are drawn; if none is good, the program's own point is used
    (every program from :func:`graphs` has one), else the example is rejected.
    """
    for _ in range(tries):
        xs = tuple(draw(values or finite_floats()) for _ in range(program.n_inputs))
        if program.problem_at(xs, margin, max_magnitude) is None:
            return xs
    if program.point is None:
        reject()
    return program.point


@st.composite
def _instructions(draw: st.DrawFn, names: Sequence[str], values: tuple[float, ...],
                  margin: float, max_magnitude: float) -> tuple[Instruction, float] | None:
    """One slot of a program: None (empty, a quarter of the time), or an instruction whose
    operands suit its op at the point, with its value."""
    if not draw(st.integers(0, 3)):
        return None
    op = draw(st.sampled_from(names))
    operands = _draw_operands(draw, op, list(values), margin, allow_constants=True)
    if operands is None:
        return None
    result = OPS[op].forward(*_values(operands, values))
    if value_problem(result, max_magnitude):
        return None
    return Instruction(op, tuple(operands)), result


def _draw_operands(draw: st.DrawFn, op: str, values: list[float], margin: float,
                   allow_constants: bool) -> list[int | Constant] | None:
    entry = OPS[op]
    arity = entry.arity if entry.arity is not None else draw(st.sampled_from(N_ARY_SIZES))
    operands: list[int | Constant] = []
    for j in range(arity):
        if j in entry.constants:
            operands.append(Constant(draw(st.sampled_from(CONSTANTS))))
            continue
        fits = [k for k, x in enumerate(values) if not operand_issue(op, j, x, margin)]
        constants = [c for c in CONSTANTS if not operand_issue(op, j, c, margin)]
        use_constant = allow_constants and j > 0 and constants and draw(st.integers(0, 7)) == 7
        if use_constant:
            operands.append(Constant(draw(st.sampled_from(constants))))
        elif fits:
            operands.append(fits[draw(st.integers(0, len(fits) - 1))])
        else:
            return None
    return operands


def _values(operands: Sequence[int | Constant], nodes: list[float]) -> list[float]:
    return [a.value if isinstance(a, Constant) else nodes[a] for a in operands]


def _arity_for_tree(op: str) -> int:
    arity = OPS[op].arity
    return 3 if arity is None else arity


def _op_list(ops: Sequence[str] | None) -> list[str]:
    """``ops`` as a checked list of names (default: :func:`op_names`). A str is refused, not
    split: ``ops="+-"`` would otherwise be the two ops ``+`` and ``-``."""
    if isinstance(ops, str):
        raise TypeError(f"ops must be a list of operation names, not the str {ops!r:.40} "
                        f"(write ops=[{ops!r:.40}])")
    names = list(ops) if ops is not None else op_names()
    _check_ops(names)
    return names


def _check_ops(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in OPS]
    if unknown:
        raise ValueError(f"unknown operations {unknown}; known: {', '.join(OPS)}")
    if not names:
        raise ValueError("graphs need at least one operation")


# -- settings profiles ----------------------------------------------------------------------------

PROFILES: dict[str, dict] = {
    "dev": {"max_examples": 60, "deadline": None},
    "ci": {"derandomize": True, "max_examples": 60, "deadline": None, "print_blob": True,
           "database": None, "suppress_health_check": [HealthCheck.too_slow]},
    "thorough": {"max_examples": 5_000, "deadline": None,
                 "suppress_health_check": [HealthCheck.too_slow]},
}
"""``ci`` is deterministic (the same examples on every run) with no deadline; ``dev`` is random;
``thorough`` runs many more examples."""


def register_profiles(load: bool = True) -> str:
    """Register the profiles of ``PROFILES`` and load the chosen one; return its name.

    ``DELTAGRAD_PROFILE`` chooses (default ``ci`` when ``CI`` is set, else ``dev``);
    ``DELTAGRAD_MAX_EXAMPLES`` overrides its number of examples per test.
    """
    for name, options in PROFILES.items():
        settings.register_profile(name, **options)
    chosen = os.environ.get("DELTAGRAD_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    if chosen not in PROFILES:
        raise ValueError(f"DELTAGRAD_PROFILE={chosen!r} is not a profile; choose one of "
                         f"{', '.join(PROFILES)}")
    examples = os.environ.get("DELTAGRAD_MAX_EXAMPLES")
    if examples:
        if not examples.isdigit() or int(examples) < 1:
            raise ValueError(f"DELTAGRAD_MAX_EXAMPLES must be a positive integer, got "
                             f"{examples!r}")
        settings.register_profile(chosen, parent=settings.get_profile(chosen),
                                  max_examples=int(examples))
    if load:
        settings.load_profile(chosen)
    return chosen
