"""Derivatives as functions: ``grad``, ``hessian``, ``hvp``, ``jacobian`` and ``jvp``.

Reverse mode (the first four) runs the one backward pass, ``Value.backward``; with
``create_graph=True`` it builds the gradient as a graph of its own, which a second backward pass
differentiates again. Forward mode (``jvp``) pushes a tangent through the same graph in creation
order, with the same local derivatives (``engine.derivatives.local_derivatives``): one forward
sweep per input direction, where reverse mode needs one backward pass per output.

The helpers take a plain Python function of Values, ``f(*xs) -> Value``, and a point (numbers):
they call ``f`` on fresh leaves, so Python control flow in ``f`` is followed at that point.
"""

from __future__ import annotations

import numbers
from collections import defaultdict
from collections.abc import Callable, Sequence

from engine import diagnosis
from engine.chain_rule import chain_rule
from engine.create_graph import gradients_as_values
from engine.derivatives import local_derivatives
from engine.graph_order import ancestors, backward_order
from engine.modes import MODE, OPEN_ANOMALY_BLOCKS, enable_grad, is_grad_enabled
from engine.value import Value, seed_float

Number = int | float
Values = Value | Sequence[Value]


def grad(outputs: Values, inputs: Values, grad_outputs: Sequence[Number | Value] | None = None,
         create_graph: bool = False) -> tuple[float | Value, ...]:
    """The gradients of ``outputs`` with respect to each of ``inputs``, as a tuple.

    With several outputs, their gradients are summed, each weighted by its entry of
    ``grad_outputs`` (default 1.0), as ``torch.autograd.grad`` does. Every ``.grad`` of the
    graph is left as it was: the gradients are returned, not accumulated. An input the outputs
    do not depend on gets 0.0 (PyTorch raises unless ``allow_unused=True``, then gives None).
    Gradients are floats; with ``create_graph=True`` they are Values, graphs of their own
    (built by running each local-derivative rule on Values), which ``grad`` or ``backward``
    can differentiate again. Inputs may be interior nodes as well as leaves.
    """
    outputs, inputs = _as_values(outputs, "outputs"), _as_values(inputs, "inputs")
    if not is_grad_enabled() and all(y.is_leaf and y not in inputs for y in outputs):
        raise ValueError("grad's outputs are leaves computed inside no_grad(), which records "
                         "no graph, so no input reaches them: compute them outside no_grad() "
                         "(or in an enable_grad() block)")
    root, seed = _root(outputs, _seeds(grad_outputs, len(outputs)))
    if create_graph:
        sums = gradients_as_values(root, seed, write=False)
        return tuple(sums.gradient(x) for x in inputs)
    grads = _float_gradients(root, seed_float(seed))
    return tuple(grads.get(x, 0.0) for x in inputs)


def _float_gradients(root: Value, seed: float) -> dict[Value, float]:
    """d root / d u for every u that root reaches, the backward pass's numbers, in a table of
    this call's own (``chain_rule``): no ``.grad`` is read or written, so calls in several
    threads on shared parameters never meet (``torch.autograd.grad`` leaves ``.grad`` alone)."""
    grads: dict[Value, float] = defaultdict(float, {root: seed})
    order = backward_order(root)
    try:
        if OPEN_ANOMALY_BLOCKS[0] and MODE.get().anomaly:  # see OPEN_ANOMALY_BLOCKS
            chain_rule(order, grads, lambda node: _checked(node, grads[node]))
        else:
            chain_rule(order, grads)
    except (TypeError, ValueError, AttributeError) as error:
        diagnosis.refuse_miscounting_rules(order, error)  # a rule gave too few or too many
        raise
    return grads


def _checked(node: Value, g: float) -> float:
    diagnosis.check_step(node, g)
    return g


def hessian(f: Callable[..., Value], *point: Number) -> list[list[float]]:
    """The matrix of second derivatives d²f / dx_i dx_j at ``point``, as a list of rows.

    One backward pass with ``create_graph=True`` gives the gradient as Values; one more
    backward pass per input differentiates each of its entries (reverse over reverse).
    """
    xs = _leaves(point, "hessian")
    return _reverse_over_reverse(f, xs, [[1.0 if j == i else 0.0 for j in range(len(xs))]
                                         for i in range(len(xs))])


def hvp(f: Callable[..., Value], point: Sequence[Number],
        v: Sequence[Number]) -> list[float]:
    """The Hessian of ``f`` at ``point`` times the vector ``v``, without the Hessian.

    Reverse over reverse: the gradient g(x) as a graph (``create_graph=True``), then one more
    backward pass of ``g(x) . v``, whose gradient is ``H v``. It costs a constant number of
    gradients, whatever the number of inputs (the cheap-gradient principle), where the Hessian
    needs one backward pass per input.
    """
    xs = _leaves(point, "hvp")
    v = _numbers(v, "hvp's v")
    if len(v) != len(xs):
        raise ValueError(f"hvp needs one entry of v per input, got {len(v)} for {len(xs)} "
                         "inputs")
    return _reverse_over_reverse(f, xs, [v])[0]


def _reverse_over_reverse(f: Callable[..., Value], xs: list[Value],
                          directions: list[list[float]]) -> list[list[float]]:
    """``H d`` for each direction d: the gradient of f at the fresh leaves xs as a graph, then
    one float backward pass of ``gradient . d`` per direction (no ``.grad`` changes)."""
    with enable_grad():  # f's graph is recorded even inside no_grad
        (out,) = _call(f, xs)
    gradient = grad(out, xs, create_graph=True)
    return [list(grad(gradient, xs, grad_outputs=d)) for d in directions]


def jacobian(f: Callable[..., Values], *point: Number) -> list[list[float]]:
    """The matrix d f_i / d x_j at ``point``, one row per output of ``f`` (a Value or a
    sequence of Values): one backward pass per output."""
    xs = _leaves(point, "jacobian")
    outputs = _call(f, xs, several=True)
    return [list(grad(y, xs)) for y in outputs]


def jvp(f: Callable[..., Values], point: Sequence[Number],
        tangent: Sequence[Number]) -> tuple[float | list[float], float | list[float]]:
    """``(f(point), J(point) @ tangent)``: forward mode, by dual numbers.

    The graph of ``f`` is built at the point; then, oldest node first, each node's tangent is
    ``sum_i local_i * tangent(operand_i)`` with the local derivatives of the table, starting
    from ``tangent`` at the inputs (0 for anything else). No finite differences and no backward
    pass: one sweep gives the derivative of every output along one direction. For ``f``
    returning one Value both results are floats; for a sequence, lists.
    """
    xs = _leaves(point, "jvp")
    dx = _numbers(tangent, "jvp's tangent")
    if len(dx) != len(xs):
        raise ValueError(f"jvp needs one tangent entry per input, got {len(dx)} for {len(xs)} "
                         "inputs")
    result = _call(f, xs, several=True)
    tangents = dict(zip(xs, dx, strict=True))
    for node in ancestors(*result):
        if node.parents:
            terms = [d * tangents[operand] for operand, d in local_derivatives(node)
                     if operand in tangents]  # an operand no input reaches has no tangent
            if terms:  # J @ t in full: a 0 tangent times an inf derivative is nan, as in torch
                t = terms[0]
                for term in terms[1:]:
                    t += term
                tangents[node] = t
    values = [y.data for y in result]
    derivatives = [tangents.get(y, 0.0) for y in result]
    if isinstance(result, _One):
        return values[0], derivatives[0]
    return values, derivatives


# -- checking and preparing arguments ----------------------------------------------------------


class _One(tuple):
    """The outputs of an ``f`` that returned one Value (not a sequence of them)."""

    __slots__ = ()


def _as_values(xs: object, what: str) -> tuple[Value, ...]:
    """A Value or a sequence of Values as a tuple; anything else is named in a TypeError."""
    if type(xs) is Value:
        return (xs,)
    if isinstance(xs, (str, bytes)) or not isinstance(xs, Sequence):
        raise TypeError(f"grad's {what} must be a Value or a sequence of Values, not "
                        f"{type(xs).__name__}: {xs!r:.80}")
    for i, x in enumerate(xs):
        if type(x) is not Value:
            raise TypeError(f"grad's {what} must be Values: entry {i} is a {type(x).__name__}: "
                            f"{x!r:.80}")
    if not xs:
        raise ValueError(f"grad needs at least one of its {what}")
    return tuple(xs)


def _seeds(grad_outputs: object, count: int) -> list[Number | Value]:
    if grad_outputs is None:
        return [1.0] * count
    if type(grad_outputs) is Value or isinstance(grad_outputs, numbers.Real):
        grad_outputs = [grad_outputs]
    seeds = list(grad_outputs)  # type: ignore[call-overload]
    if len(seeds) != count:
        raise ValueError(f"grad_outputs has {len(seeds)} entries for {count} outputs")
    for i, s in enumerate(seeds):
        if type(s) is not Value and (isinstance(s, bool) or not isinstance(s, numbers.Real)):
            raise TypeError(f"grad_outputs must be numbers or Values: entry {i} is a "
                            f"{type(s).__name__}: {s!r:.80}")
    return seeds


def _root(outputs: tuple[Value, ...], seeds: list) -> tuple[Value, Number | Value]:
    """One node whose gradient is the weighted sum of the outputs' gradients, and its seed."""
    pairs = [(y, s) for y, s in zip(outputs, seeds, strict=True)
             if type(s) is Value or s != 0.0]  # a zero weight adds nothing: not even a walk
    if len(pairs) == 1 or len(outputs) == 1:
        return pairs[0] if pairs else (outputs[0], 0.0)
    with enable_grad():  # one node, sum_k s_k y_k (+ 0), however many outputs
        return Value.affine([s for _, s in pairs], [y for y, _ in pairs], 0.0), 1.0


def floats(xs: Sequence[object], what: str = "input") -> list[float]:
    """Each of ``xs`` (a real number, or a Value whose number is used) as a float; anything else
    is named in a TypeError: ``<what> <i> must be a real number or a Value``."""
    out = []
    for i, x in enumerate(xs):
        if type(x) is Value:
            x = x.data
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise TypeError(f"{what} {i} must be a real number or a Value, got "
                            f"{type(x).__name__}: {x!r:.80}")
        out.append(float(x))
    return out


def _numbers(xs: object, what: str) -> list[float]:
    if isinstance(xs, (str, bytes)) or not isinstance(xs, Sequence):
        raise TypeError(f"{what} must be a sequence of numbers, not {type(xs).__name__}")
    return floats(xs, f"{what}: entry")


def _leaves(point: Sequence[object], who: str) -> list[Value]:
    """Fresh leaves x0, x1, ... at the point (numbers, or Values whose data is used)."""
    xs = [Value(x, label=f"x{i}") for i, x in enumerate(_numbers(point, f"{who}'s point"))]
    if not xs:
        raise ValueError(f"{who} needs a point with at least one coordinate")
    return xs


def _call(f: Callable[..., Values], xs: list[Value], several: bool = False) -> tuple[Value, ...]:
    """f(*xs), recorded even inside no_grad; one Value, or with ``several`` a sequence."""
    if not callable(f):
        raise TypeError(f"expected a function of Values, got {type(f).__name__}")
    with enable_grad():
        out = f(*xs)
    if type(out) is Value:
        return _One((out,))
    if several and isinstance(out, Sequence) and out and all(type(y) is Value for y in out):
        return tuple(out)
    wanted = "a Value or a non-empty sequence of Values" if several else "one Value"
    raise TypeError(f"f must return {wanted} built from the Values it is given, got "
                    f"{type(out).__name__}: {out!r:.80}")
