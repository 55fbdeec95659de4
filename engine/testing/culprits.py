"""Naming the culprit: the node whose local rule is wrong, or that the backward pass got wrong.

Both searches are oracles of their own: the rules are checked against finite differences of the
ops' forward functions, the backward pass against a plain reverse pass written here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.chain_rule import chain_rule_steps
from engine.derivatives import OPS, local_derivatives
from engine.testing.nodes import expression, graph_order, is_constant, node_names
from engine.testing.numeric import check_options, derivative, step
from engine.testing.report import (
    MISMATCH,
    MISSING_CHAIN_RULE,
    STALE_INTERIOR_GRADS,
    Culprit,
    GradcheckResult,
)
from engine.testing.runner import Runner
from engine.testing.tolerance import check_tolerances, closeness
from engine.value import Value


@dataclass(frozen=True)
class LocalMismatch:
    """A node whose local-derivative rule disagrees with a numeric derivative of its op."""

    node: Value
    operand: int
    rule: float
    numeric: float
    message: str


def check_local(root: Value, *, eps: float = 1e-6, atol: float = 1e-5,
                rtol: float = 1e-3) -> list[LocalMismatch]:
    """Every node of root's graph whose rule disagrees with its op's forward, oldest first.

    For each node and each operand that takes a gradient, the local derivative the backward pass
    uses (``engine.derivatives.local_derivatives``) is compared with central differences of the
    op's forward function with that operand alone moved (relative step). Operands within a step
    of a kink and points where the numeric value is not finite are skipped.
    """
    check_options(eps, "central")
    check_tolerances(atol, rtol)
    order = graph_order(root)
    names = node_names(order)
    close = closeness(atol, rtol)
    found = []
    for node in order:
        if not node.parents or node.op not in OPS:
            continue
        op = OPS[node.op]
        data = [p.data for p in node.parents]
        for j, (_, d) in enumerate(local_derivatives(node)):
            if j in op.constants or (j == 0 and _near_kink(data[0], op.kinks, eps)):
                continue
            numeric = derivative(_operand_alone(op.forward, data, j), data[j], eps, "central")
            if not math.isfinite(numeric) or close(d, numeric):
                continue
            found.append(LocalMismatch(node, j, d, numeric, _local_message(
                node, names, j, d, numeric)))
    return found


def _operand_alone(forward: Callable[..., float], data: list[float],
                   j: int) -> Callable[[float], float]:
    def f_j(x: float) -> float:
        args = list(data)
        args[j] = x
        return forward(*args)
    return f_j


def _near_kink(x: float, kinks: Sequence[float], eps: float) -> bool:
    return any(abs(x - k) <= 2 * step(x, eps) for k in kinks)


def _local_message(node: Value, names: dict[Value, str], j: int, rule: float,
                   numeric: float) -> str:
    at = ", ".join(dict.fromkeys(f"{names[p]} = {p.data!r}" for p in node.parents
                                 if not is_constant(p, names)))
    which = f" for operand {j + 1} ({names[node.parents[j]]})" if len(node.parents) > 1 else ""
    return (f"{names[node]} = {expression(node, names)} at {at}: rule gives {rule:.6g}, "
            f"numeric {numeric:.6g}{which}: check {node.op}'s local derivative")


def find_culprit(run: Runner, result: GradcheckResult, g: float, atol: float,
                 rtol: float) -> Culprit | None:
    """The first wrong local rule; else the first node the backward pass got wrong."""
    _, out = run()
    for mismatch in check_local(out, atol=atol, rtol=rtol):
        names = node_names(graph_order(out))
        return Culprit(names[mismatch.node], mismatch.node.op, mismatch.message)
    kinds = result.kinds
    if MISMATCH in kinds:
        seed, passes = 1.0, 1
    elif MISSING_CHAIN_RULE in kinds:
        seed, passes = g, 1
    elif STALE_INTERIOR_GRADS in kinds:
        seed, passes = g, 2
    else:
        return None
    return _backward_culprit(run, seed, passes, atol, rtol)


def _backward_culprit(run: Runner, seed: float, passes: int, atol: float,
                      rtol: float) -> Culprit | None:
    """Compare every node's grad after ``passes`` backward(seed) with a plain reference pass."""
    _, out = run()
    for _ in range(passes):
        out.backward(seed)
    order = graph_order(out)
    names = node_names(order)
    expected, contributions = _reference_grads(out, order, seed)
    close = closeness(atol, rtol)
    for node in reversed(order):  # from the output back: where the error enters
        if is_constant(node, names):
            continue
        if node.parents:  # interior nodes hold the last pass's gradient, the output its seed
            want = seed if node is out else expected.get(node, 0.0)
        else:  # leaves accumulate over the passes
            want = expected.get(node, 0.0) * passes
        if not close(node.grad, want):
            message = _backward_message(node, names, want, passes, contributions.get(node, []))
            return Culprit(names[node], node.op, message)
    return None


def _backward_message(node: Value, names: dict[Value, str], want: float, passes: int,
                      uses: list[tuple[Value, float]]) -> str:
    what = names[node] if not node.parents else f"{names[node]} = {expression(node, names)}"
    if passes > 1 and node.parents:
        return (f"after {passes} backward passes {what} holds grad {node.grad:.6g}, but an "
                f"interior node must hold only the last pass's gradient {want:.6g}: "
                "reset interior gradients to 0 at the start of each backward pass")
    parts = " + ".join(f"{c:.6g} (from {names[user]})" for user, c in uses)
    chain = f" = {parts}" if len(uses) > 1 else ""
    return (f"backward left {what} with grad {node.grad:.6g}, but the chain rule "
            f"gives {want:.6g}{chain}: check that backward adds (+=) the "
            "contribution of every use, multiplies each local derivative by the "
            "upstream gradient, and visits each node only after all nodes that use it")


def _reference_grads(root: Value, order: list[Value], seed: float
                     ) -> tuple[dict[Value, float], dict[Value, list[tuple[Value, float]]]]:
    """d root / d node for every node by a plain reverse pass, and each use's contribution.

    It runs the engine's chain rule (``engine.chain_rule_steps``: the rules are check_local's
    business) in an order found by a walk of its own, so it checks the engine's walk and
    accumulation.
    """
    grads: dict[Value, float] = {root: seed}
    contributions: dict[Value, list[tuple[Value, float]]] = {}
    interior = [node for node in reversed(order) if node.parents]  # its own order, not backward's
    for node, _, parent, d, g, _, after in chain_rule_steps(root, seed, interior):
        grads[parent] = after
        contributions.setdefault(parent, []).append((node, d * g))
    return grads, contributions
