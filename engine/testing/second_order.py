"""gradgradcheck: the engine's second derivatives against central differences of its first.

The analytic side is reverse over reverse: ``engine.grad(f, xs, create_graph=True)`` builds the
gradient as a graph, and a second pass differentiates each entry. The numeric side only runs
first-order backward passes (float gradients at points moved along each input), so a rule that
is right on floats but wrong on Values shows. A failure is traced to the node whose rule gives
a wrong second derivative: each rule run on Values and differentiated, against central
differences of the same rule run on floats.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from engine.derivatives import OPS, local_derivatives
from engine.functional import floats, grad
from engine.pictures.notation import derivative
from engine.testing.culprits import check_local
from engine.testing.mismatch import kink_between
from engine.testing.nodes import expression, graph_order, is_constant, node_names
from engine.testing.numeric import check_options, step
from engine.testing.report import (
    KINK,
    MISMATCH,
    Culprit,
    Failure,
    GradcheckError,
    GradcheckResult,
    function_name,
    make_row,
)
from engine.testing.runner import Runner, default_inputs, input_names
from engine.testing.tolerance import check_tolerances, closeness
from engine.value import Value, apply


def gradgradcheck(f: Callable[..., Value], *inputs: float | Value, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, method: str = "central",
                  allow_kinks: bool = False, raise_exception: bool = True) -> GradcheckResult:
    """Check the second derivatives of ``f`` at ``inputs`` and diagnose what is wrong.

    Each d²f/dx_i dx_j that ``backward(create_graph=True)`` and a second backward pass give is
    compared with the difference quotient of the engine's first derivative df/dx_i along x_j
    (``method`` ``"central"`` or ``"richardson"``, relative step ``eps``), with gradcheck's rule
    ``|a - n| <= atol + rtol * |n|``: one :class:`Row` per pair. Arguments, tolerances and the
    report are gradcheck's; a mismatch where a kinked op (relu, abs, ...) sits within a step of
    its kink is a ``kink`` failure (a note with ``allow_kinks=True``: the second derivative is 0
    there by convention, and the first jumps). The ``culprit`` is the first node whose local
    rule is wrong on floats (as gradcheck finds it) or, failing that, on Values.
    """
    if not callable(f):
        raise TypeError(f"gradgradcheck needs a function of Values, got {type(f).__name__}")
    point = floats(inputs)
    if not point:
        raise ValueError("gradgradcheck has no inputs to check: give the point after f, as in "
                         "gradgradcheck(f, 0.5, -1.2)")
    check_options(eps, method)
    check_tolerances(atol, rtol)
    run = Runner(f, point, input_names(inputs))
    try:
        result = _check(run, eps, atol, rtol, method, allow_kinks)
    finally:
        run.restore()
    if raise_exception and not result.ok:
        raise GradcheckError(result)
    return result


def assert_second_derivatives_match_numeric(f: Callable[..., Value], *inputs: float | Value,
                                            **options: object) -> GradcheckResult:
    """Assert that ``gradgradcheck(f, *inputs, **options)`` passes; a Program drawn by
    ``engine.strategies`` uses its own ``point`` when no inputs are given."""
    inputs = default_inputs(f, inputs)
    return gradgradcheck(f, *inputs, raise_exception=True, **options)  # type: ignore[arg-type]


def _check(run: Runner, eps: float, atol: float, rtol: float, method: str,
           allow_kinks: bool) -> GradcheckResult:
    analytic = _analytic_hessian(run)
    numeric = [_numeric_column(run, j, eps, method) for j in range(len(run.point))]
    close = closeness(atol, rtol)
    rows, failures, notes = [], [], []
    for i in range(len(run.names)):
        for j in range(len(run.names)):
            n, fd_err = numeric[j][0][i], numeric[j][1][i]
            row = make_row(_pair_name(run.names, i, j), run.point[j], analytic[i][j], n, fd_err)
            rows.append(row)
            if close(row.analytic, row.numeric):
                continue
            kink = kink_between(run, j, step(run.point[j], eps))
            if kink is not None and allow_kinks:
                notes.append(f"{row.name}: {kink}")
                continue
            if kink is not None:
                failures.append(Failure(KINK, f"{row.name}: {kink}"))
                continue
            limit = atol + rtol * abs(n)
            failures.append(Failure(MISMATCH, (
                f"{row.name}: analytic {row.analytic:.6g}, numeric {n:.6g} (|difference| "
                f"{row.abs_err:.3g} > atol + rtol * |numeric| = {limit:.3g})")))
    at = ", ".join(f"{name} = {x!r}" for name, x in zip(run.names, run.point, strict=True))
    result = GradcheckResult(function_name(run.f), rows, failures, notes, check="gradgradcheck",
                             point=at)
    if any(kind == MISMATCH for kind in result.kinds):
        result.culprit = find_second_order_culprit(run()[1], atol=atol, rtol=rtol)
    return result


def _pair_name(names: list[str], i: int, j: int) -> str:
    """``d2f/dx0dx1``: the name of the row of d²f / dx_i dx_j."""
    return f"d2f/d{names[i]}d{names[j]}" if i != j else f"d2f/d{names[i]}^2"


def _analytic_hessian(run: Runner) -> list[list[float]]:
    """d²f / dx_i dx_j by reverse over reverse, on one graph of f."""
    leaves, out = run()
    gradient = grad(out, leaves, create_graph=True)
    return [[_number(d) for d in grad(g, leaves)] for g in gradient]


def _number(x: object) -> float:
    return x.data if type(x) is Value else float(x)  # type: ignore[arg-type]


def _numeric_column(run: Runner, j: int, eps: float,
                    method: str) -> tuple[list[float], list[float]]:
    """The difference quotients of the first derivatives along x_j, and their uncertainty
    (the difference from the quotient with a step twice as big)."""
    def gradient_at(xj: float) -> list[float]:
        point = list(run.point)
        point[j] = xj
        leaves, out = run(point)
        return [_number(g) for g in grad(out, leaves)]

    def quotient(h: float) -> list[float]:
        x = run.point[j]
        if method == "central":
            return _central(gradient_at, x, h)
        coarse, fine = _central(gradient_at, x, h), _central(gradient_at, x, h / 2)
        return [(4.0 * b - a) / 3.0 for a, b in zip(coarse, fine, strict=True)]

    h = step(run.point[j], eps)
    best, rough = quotient(h), quotient(2 * h)
    return best, [abs(a - b) for a, b in zip(best, rough, strict=True)]


def _central(gradient_at: Callable[[float], list[float]], x: float, h: float) -> list[float]:
    up, down = x + h, x - h
    return [(a - b) / (up - down) for a, b in zip(gradient_at(up), gradient_at(down),
                                                  strict=True)]


# -- the culprit: a rule whose derivative on Values is wrong ------------------------------------


def find_second_order_culprit(root: Value, *, eps: float = 1e-6, atol: float = 1e-5,
                              rtol: float = 1e-3) -> Culprit | None:
    """The first node of root's graph whose local rule is wrong on floats (``check_local``)
    or, run on Values, has a derivative that disagrees with central differences of the rule
    on floats: the node whose rule gives a wrong second derivative."""
    order = graph_order(root)
    names = node_names(order)
    for mismatch in check_local(root, eps=eps, atol=atol, rtol=rtol):
        return Culprit(names[mismatch.node], mismatch.node.op, mismatch.message)
    close = closeness(atol, rtol)
    for node in order:
        if not node.parents or node.op not in OPS:
            continue
        for j, k, analytic, numeric in _rule_derivatives(node, eps):
            if math.isfinite(numeric) and not close(analytic, numeric):
                return Culprit(names[node], node.op, _message(node, names, j, k, analytic,
                                                              numeric))
    return None


def _rule_derivatives(node: Value, eps: float):
    """``(j, k, analytic, numeric)``: d(local_j)/d(operand_k) for the node's op at its operands'
    values, by the rule run on Values and differentiated, and by central differences of the
    rule run on floats. Fixed parameters and operands within a step of a kink are skipped."""
    op = OPS[node.op]
    data = [p.data for p in node.parents]
    leaves = [Value(x) for x in data]
    local = [d for _, d in local_derivatives(apply(node.op, *leaves), on_values=True)]
    free = [k for k in range(len(data)) if k not in op.constants
            and not (k == 0 and any(abs(data[0] - c) <= 2 * step(data[0], eps)
                                    for c in op.kinks))]
    for j in free:
        if type(local[j]) is Value:
            analytic = [_number(d) for d in grad(local[j], [leaves[k] for k in free])]
        else:  # a number: a constant local derivative, whose derivative is 0
            analytic = [0.0] * len(free)
        for k, a in zip(free, analytic, strict=True):
            yield j, k, a, _rule_slope(op, data, j, k, eps)


def _rule_slope(op, data: list[float], j: int, k: int, eps: float) -> float:
    """d(local_j)/d(operand_k) by central differences of the rule on floats."""
    def local_j(x: float) -> float:
        args = list(data)
        args[k] = x
        return float(op.derivatives(*args, op.forward(*args))[j])

    x, h = data[k], step(data[k], eps)
    return (local_j(x + h) - local_j(x - h)) / ((x + h) - (x - h))


def _message(node: Value, names: dict[Value, str], j: int, k: int, analytic: float,
             numeric: float) -> str:
    at = ", ".join(dict.fromkeys(f"{names[p]} = {p.data!r}" for p in node.parents
                                 if not is_constant(p, names)))
    first = derivative(names[node], names[node.parents[j]])
    return (f"{names[node]} = {expression(node, names)} at {at}: its local derivative "
            f"{first}, run on Values, has the derivative {analytic:.6g} along "
            f"{names[node.parents[k]]}, but central differences of the rule give "
            f"{numeric:.6g}: check {node.op}'s rule on Values (write it with operations that "
            "work on Values: arithmetic, Value methods, engine.derivatives' div, power, log, "
            "sign; not with their numbers)")
