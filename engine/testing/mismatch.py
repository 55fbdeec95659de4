"""Why a gradient and its numeric value disagree: a node sitting on a kink, or a plain mismatch."""

from __future__ import annotations

from engine.derivatives import OPS, local_derivatives
from engine.testing.nodes import expression, graph_order, node_names
from engine.testing.numeric import along, one_sided, step
from engine.testing.report import KINK, MISMATCH, Failure, GradcheckResult
from engine.testing.runner import Runner
from engine.testing.tolerance import closeness
from engine.value import Value


def explain_mismatch(result: GradcheckResult, run: Runner, i: int, eps: float, atol: float,
                     rtol: float, allow_kinks: bool) -> None:
    """Add to ``result`` why input i's row mismatches: a kink (a failure, or with
    ``allow_kinks`` a note if the subgradient lies between the one-sided derivatives) or not."""
    row, close = result.rows[i], closeness(atol, rtol)
    h = step(row.value, eps)
    left, right = one_sided(along(run.f, run.point, i), row.value, h)
    kink = kink_between(run, i, h) if not close(left, right) else None
    if kink is not None:
        inside = min(left, right) - atol <= row.analytic <= max(left, right) + atol
        text = (f"{kink}; one-sided derivatives: left {left:.6g}, right {right:.6g}, "
                f"deltagrad's {row.analytic:.6g}")
        if allow_kinks and inside:
            result.notes.append(text)
        else:
            result.failures.append(Failure(KINK, text))
        return
    limit = atol + rtol * abs(row.numeric)
    text = (f"{row.name}: analytic {row.analytic:.6g}, numeric {row.numeric:.6g} "
            f"(|difference| {row.abs_err:.3g} > atol + rtol * |numeric| = {limit:.3g})")
    if not close(left, right):
        text += (f"; the one-sided derivatives disagree (left {left:.6g}, right {right:.6g}): "
                 "f may not be differentiable here")
    elif row.fd_err > limit:
        text += f"; the numeric value itself is uncertain by about {row.fd_err:.3g}"
    result.failures.append(Failure(MISMATCH, text))


def kink_between(run: Runner, i: int, h: float) -> str | None:
    """Describe the node of a kinked op whose operand touches or crosses a kink in [x-h, x+h]."""
    graphs = []
    for x in (run.point[i] - h, run.point[i], run.point[i] + h):
        point = list(run.point)
        point[i] = x
        graphs.append(graph_order(run(point)[1]))
    middle = graphs[1]
    same_shape = all(len(g) == len(middle) and all(a.op == b.op for a, b in zip(g, middle,
                                                                                strict=True))
                     for g in graphs)
    names = node_names(middle)
    for k, node in enumerate(middle):
        kinks = OPS[node.op].kinks if node.op in OPS else ()
        if not kinks:
            continue
        x = node.parents[0].data
        for kink in kinks:
            sides = ([g[k].parents[0].data - kink for g in graphs] if same_shape
                     else [x - kink])
            if min(sides) <= 0 <= max(sides):
                return kink_text(node, names, run.names[i], x, kink)
    return None


def kink_text(node: Value, names: dict[Value, str], input_name: str, x: float,
              kink: float) -> str:
    """``x0 sits on a kink of relu at 0; deltagrad uses the subgradient 0 ...``."""
    subgradient = local_derivatives(node)[0][1]
    operand = names[node.parents[0]]
    where = (f"{input_name} sits on a kink of {node.op} at {kink:g}" if operand == input_name
             else f"{names[node]} = {expression(node, names)} sits on a kink of {node.op} at "
                  f"{kink:g} ({operand} = {x!r})")
    if x != kink:
        where = where.replace("sits on", "is within a finite-difference step of")
    return (f"{where}; deltagrad uses the subgradient {subgradient:g} (PyTorch's convention), "
            "which finite differences cannot confirm")
