"""Tools for testing gradients from any test suite (standard library only).

- :func:`numeric_grad`: derivatives by finite differences with a *relative* step.
- :func:`gradcheck`: the engine's gradients against numeric ones, plus four probes for the classic
  backward-pass bugs; on failure it names the node whose local derivative is wrong.
- :func:`check_local`: that diagnosis on its own: every node's rule against its op's forward.
- :func:`assert_grads_match_numeric` and :func:`assert_grads_match_torch`: one-line assertions.
- :func:`registered`: a user op registered for the length of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import operator
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from engine.derivatives import OPS, Op, local_derivatives, register, unregister
from engine.modes import enable_grad, no_grad
from engine.programs import Program, written
from engine.value import Value

METHODS = ("central", "richardson")

# -- a user op for the length of a block ----------------------------------------------------------


@contextlib.contextmanager
def registered(name: str, op: Op) -> Iterator[str]:
    """Register ``op`` as ``name`` for the length of a ``with`` block, then unregister it.

    The table of operations is global: an op a test registers must not outlive the test, even
    when the test fails. ``with registered("softplus", Op(...)):`` yields the name; if the block
    removes the op itself, nothing is left to do at its end.
    """
    register(name, op)
    try:
        yield name
    finally:
        if OPS.get(name) is op:
            unregister(name)


# -- numeric derivatives --------------------------------------------------------------------------


def numeric_grad(f: Callable[..., Value], *inputs: float | Value, eps: float = 1e-6,
                 method: str = "central") -> list[float]:
    """d f / d input_i by finite differences, for each input.

    ``f`` maps Values to one Value and is called on fresh leaves (under ``no_grad``: only the
    numbers matter). The step is *relative*, ``h = eps * max(1, |x|)``: an absolute step vanishes
    next to large inputs (at x = 1e10, x + 1e-6 == x). ``method="central"`` uses
    ``(f(x+h) - f(x-h)) / 2h`` (error ~h²); ``"richardson"`` combines steps h and h/2 into an
    O(h⁴) estimate, most accurate with a larger ``eps`` such as 1e-3.
    """
    point = _floats(inputs)
    _check_options(eps, method)
    return [_derivative(_along(f, point, i), x, eps, method) for i, x in enumerate(point)]


def _along(f: Callable[..., Value], point: Sequence[float], i: int) -> Callable[[float], float]:
    """f as a float function of input i alone, the other inputs fixed."""
    def f_i(x: float) -> float:
        args = [Value(v) for v in point]
        args[i] = Value(x)
        with no_grad():
            out = f(*args)
        return _output_data(out)
    return f_i


def _output_data(out: object) -> float:
    if type(out) is Value:
        return out.data
    if isinstance(out, (int, float)) and not isinstance(out, bool):
        return float(out)
    raise TypeError(f"f must return a Value, got {type(out).__name__}: {out!r:.80}")


def _step(x: float, eps: float) -> float:
    return eps * max(1.0, abs(x))


def _central(f: Callable[[float], float], x: float, h: float) -> float:
    up, down = x + h, x - h
    return (f(up) - f(down)) / (up - down)  # the points actually used, after rounding


def _derivative(f: Callable[[float], float], x: float, eps: float, method: str) -> float:
    h = _step(x, eps)
    if method == "central":
        return _central(f, x, h)
    return (4.0 * _central(f, x, h / 2) - _central(f, x, h)) / 3.0  # cancels the h² term


def _one_sided(f: Callable[[float], float], x: float, h: float) -> tuple[float, float]:
    """The left and right difference quotients: they disagree on a kink."""
    fx = f(x)
    return (fx - f(x - h)) / (x - (x - h)), (f(x + h) - fx) / ((x + h) - x)


# -- gradcheck ------------------------------------------------------------------------------------

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
    """

    function: str
    rows: list[Row]
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    culprit: Culprit | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def __bool__(self) -> bool:
        return self.ok

    @property
    def kinds(self) -> list[str]:
        return [failure.kind for failure in self.failures]

    def __str__(self) -> str:
        at = ", ".join(f"{row.name} = {row.value!r}" for row in self.rows)
        verdict = "passed" if self.ok else f"failed ({', '.join(dict.fromkeys(self.kinds))})"
        lines = [f"gradcheck {verdict} for {self.function} at {at}", _table(self.rows)]
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


def gradcheck(f: Callable[..., Value], *inputs: float | Value, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, method: str = "central",
              upstream: float | None = None, allow_kinks: bool = False,
              raise_exception: bool = True) -> GradcheckResult:
    """Check the gradients of ``f`` at ``inputs`` and diagnose what is wrong.

    ``f`` maps Values to one Value; it is re-run on fresh leaves for every check, so Python
    control flow in it is respected. ``inputs`` are numbers or Values (their labels name the
    rows; unlabelled inputs are x0, x1, ...). The defaults are PyTorch's. The checks:

    1. ``mismatch``: each gradient against finite differences, ``|a - n| <= atol + rtol * |n|``;
    2. ``not_reentrant``: two fresh backward passes give identical gradients;
    3. ``missing_chain_rule``: ``backward(g)`` scales every gradient by g (``upstream``; by
       default a g drawn from the point, |g| in [1.5, 3]; 0, 1, -1 and non-finite g are
       refused: the checks could not fail with them);
    4. ``stale_interior_grads``: backward twice on one graph gives twice the leaf gradients;
    5. ``kink``: a mismatch where the one-sided differences disagree because a node of a kinked
       op (relu, abs, ...) sits on its kink; ``allow_kinks=True`` accepts the engine's
       subgradient there if it lies between the one-sided derivatives.

    Values that ``f`` captures (weights, ...) take part in every backward pass, but keep the
    grads they had: gradcheck saves and restores them.

    Returns a :class:`GradcheckResult`; raises :class:`GradcheckError` with it on failure unless
    ``raise_exception=False``. A failure is traced to a ``culprit``: the first node whose local
    derivative disagrees with its op's forward function, or the first node whose gradient the
    backward pass combined wrongly.
    """
    if not callable(f):
        raise TypeError(f"gradcheck needs a function of Values, got {type(f).__name__}")
    point = _floats(inputs)
    _check_options(eps, method)
    for name, tol in (("atol", atol), ("rtol", rtol)):
        if not (isinstance(tol, (int, float)) and tol >= 0):
            raise ValueError(f"{name} must be a number >= 0, got {tol!r}")
    _check_upstream(upstream)
    names = [getattr(x, "label", "") or f"x{i}" for i, x in enumerate(inputs)]
    run = _Runner(f, point, names)
    try:
        result = _check(run, eps, atol, rtol, method, upstream, allow_kinks)
    finally:
        run.restore()  # f's captured Values (weights, ...) keep the grads they had
    return _finish(result, raise_exception)


def _check(run: _Runner, eps: float, atol: float, rtol: float, method: str,
           upstream: float | None, allow_kinks: bool) -> GradcheckResult:
    """gradcheck's checks, in order; stops after not_reentrant, which the others need."""
    f, point, names = run.f, run.point, run.names
    leaves, out = run()
    out.backward()
    analytic = [leaf.grad for leaf in leaves]

    numeric, fd_err = [], []
    for i, x in enumerate(point):
        f_i = _along(f, point, i)
        n = _derivative(f_i, x, eps, method)
        coarse = _derivative(f_i, x, 2 * eps, method)
        numeric.append(n)
        fd_err.append(abs(n - coarse))
    rows = [_row(*args) for args in zip(names, point, analytic, numeric, fd_err, strict=True)]
    result = GradcheckResult(_function_name(f), rows)

    again = run.grads(seed=1.0)
    if any(not _identical(a, b) for a, b in zip(analytic, again, strict=True)):
        pairs = ", ".join(f"{n}: {a!r} then {b!r}" for n, a, b in zip(names, analytic, again,
                                                                        strict=True) if a != b)
        result.failures.append(Failure(NOT_REENTRANT, (
            f"two fresh backward passes gave different gradients ({pairs}): does f use "
            "randomness or state kept between calls? The other checks need a repeatable f")))
        return result

    close = _closeness(atol, rtol)
    for i, row in enumerate(rows):
        if not close(row.analytic, row.numeric):
            _explain_mismatch(result, run, i, row, eps, close, allow_kinks, atol, rtol)

    g = _upstream(point) if upstream is None else float(upstream)
    scaled, doubled = run.grads(seed=g, passes=2)
    wrong = [(n, a * g, s) for n, a, s in zip(names, analytic, scaled, strict=True)
             if not close(s, a * g)]
    if wrong:
        got = ", ".join(f"{n} got {s:.6g} instead of {e:.6g}" for n, e, s in wrong)
        result.failures.append(Failure(MISSING_CHAIN_RULE, (
            f"backward(g) with g = {g:.6g} must scale every gradient by g: {got}; each local "
            "derivative must be multiplied by the upstream gradient")))
    wrong = [(n, s, d) for n, s, d in zip(names, scaled, doubled, strict=True)
             if not close(d, 2 * s)]
    if wrong:
        got = ", ".join(f"{n}: {s:.6g} then {d:.6g} ({_ratio(d, s)} the first)"
                        for n, s, d in wrong)
        why = ("the second pass replaced leaf gradients instead of adding to them (= instead "
               "of +=)" if all(d == s for _, s, d in wrong) else
               "leaves accumulate, but interior nodes must restart from 0 at each pass")
        result.failures.append(Failure(STALE_INTERIOR_GRADS, (
            f"backward twice on one graph must give exactly twice the leaf gradients ({got}); "
            f"{why}")))

    if result.failures and any(k != KINK for k in result.kinds):
        result.culprit = _find_culprit(run, result, g, atol, rtol)
    return result


def _finish(result: GradcheckResult, raise_exception: bool) -> GradcheckResult:
    if raise_exception and not result.ok:
        raise GradcheckError(result)
    return result


def assert_grads_match_numeric(f: Callable[..., Value], *inputs: float | Value,
                               **options: object) -> GradcheckResult:
    """Assert that ``gradcheck(f, *inputs, **options)`` passes (raises GradcheckError if not).

    ``f`` may be a :class:`engine.programs.Program` drawn by ``engine.strategies``; without
    ``inputs`` its own ``point`` is used.
    """
    inputs = _default_inputs(f, inputs)
    return gradcheck(f, *inputs, raise_exception=True, **options)  # type: ignore[arg-type]


def assert_grads_match_torch(f: Callable[..., object], *inputs: float | Value,
                             atol: float = 1e-9, rtol: float = 1e-7,
                             torch_ops: Mapping[str, Callable[..., object]] | None = None) -> None:
    """Assert that deltagrad's gradients of ``f`` equal PyTorch's (float64), or skip the test.

    Without torch installed, the calling test is skipped with a reason that says so. ``f`` is
    either a :class:`engine.programs.Program` (each op is translated to its torch function;
    ``torch_ops`` adds or replaces translations, e.g. for a user-registered op), or a function
    that uses only what Values and tensors share (operators, ``.tanh()``, ``.exp()``, ...).
    nan equals nan, and inf must match exactly. Values ``f`` captures keep their grads.
    """
    try:
        import torch  # optional: only this helper needs it
    except ImportError:
        _skip("torch is not installed, so deltagrad's gradients were not compared with "
              "PyTorch's: pip install torch to run this check")
        return
    inputs = _default_inputs(f, inputs)
    point = _floats(inputs)
    names = [getattr(x, "label", "") or f"x{i}" for i, x in enumerate(inputs)]
    run = _Runner(f, point, names)  # type: ignore[arg-type]
    leaves, out = run()
    try:
        out.backward()
    finally:
        run.restore()  # f's captured Values (weights, ...) keep the grads they had

    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in point]
    if isinstance(f, Program):
        t_out = f.build_with(tensors, _torch_ops(torch, torch_ops or {}))
    else:
        t_out = f(*tensors)
    t_out.backward()
    theirs = [0.0 if t.grad is None else float(t.grad.item()) for t in tensors]

    problems = []
    if not _same_float(out.data, float(t_out.item()), atol, rtol):
        problems.append(f"value: deltagrad {out.data!r}, torch {float(t_out.item())!r}")
    for leaf, t in zip(leaves, theirs, strict=True):
        if not _same_float(leaf.grad, t, atol, rtol):
            problems.append(f"d/d{leaf.label}: deltagrad {leaf.grad!r}, torch {t!r}")
    if problems:
        at = ", ".join(f"{n} = {x!r}" for n, x in zip(names, point, strict=True))
        raise AssertionError(f"deltagrad and PyTorch disagree for {_function_name(f)} at {at}:\n"
                             + "\n".join(problems))


def _skip(reason: str) -> None:
    try:
        import pytest
    except ImportError:  # unittest (and pytest) treat SkipTest as a skip
        import unittest
        raise unittest.SkipTest(reason) from None
    pytest.skip(reason)


def _torch_ops(torch: object, extra: Mapping[str, Callable[..., object]]) -> dict:
    t = torch
    ops: dict[str, Callable[..., object]] = {
        "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
        "**": operator.pow, "pow": t.pow, "neg": operator.neg, "abs": t.abs, "exp": t.exp,
        "log": t.log, "sqrt": t.sqrt, "sin": lambda x: t.sin(x), "cos": lambda x: t.cos(x),
        "tanh": t.tanh, "sigmoid": t.sigmoid, "relu": t.relu,
        "leaky_relu": lambda x, slope: t.nn.functional.leaky_relu(x, slope),
        "sum": lambda *xs: sum(xs[1:], xs[0]) if xs else t.tensor(0.0, dtype=t.float64),
        "affine": _affine_with,
    }
    ops.update(extra)
    return ops


def _affine_with(*wxb: object) -> object:
    n = (len(wxb) - 1) // 2
    out = wxb[-1]
    for w, x in zip(wxb[:n], wxb[n:-1], strict=True):
        out = out + w * x
    return out


def _same_float(a: float, b: float, atol: float, rtol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= atol + rtol * abs(b)


def _default_inputs(f: object, inputs: tuple) -> tuple:
    if not inputs and getattr(f, "point", None) is not None:
        return tuple(f.point)  # type: ignore[attr-defined]
    return inputs


# -- running f on fresh leaves --------------------------------------------------------------------


class _Runner:
    """Builds f's graph on fresh, labelled leaves at the point, as often as a check needs.

    Values that f captures (weights, constants built outside f) are older than the runner: each
    build sets their grads to 0, so every check sees the same graph, and :meth:`restore` gives
    them back the grads they had before the check.
    """

    def __init__(self, f: Callable[..., Value], point: list[float], names: list[str]) -> None:
        self.f, self.point, self.names = f, point, names
        self.start = Value(0.0)._seq  # nodes created before this one were captured by f
        self.saved: dict[Value, float] = {}

    def __call__(self, point: Sequence[float] | None = None) -> tuple[list[Value], Value]:
        leaves = [Value(x, label=n) for x, n in zip(point or self.point, self.names, strict=True)]
        with enable_grad():
            out = self.f(*leaves)
        _require_value(out)
        for node in _graph_order(out):
            if node._seq < self.start:
                self.saved.setdefault(node, node.grad)
                node.grad = 0.0
        return leaves, out

    def restore(self) -> None:
        """Give the Values f captured the grads they had before the first build."""
        for node, grad in self.saved.items():
            node.grad = grad

    def grads(self, seed: float, passes: int = 1) -> list[float] | tuple[list[float], ...]:
        leaves, out = self()
        snapshots = []
        for _ in range(passes):
            out.backward(seed)
            snapshots.append([leaf.grad for leaf in leaves])
        return snapshots[0] if passes == 1 else tuple(snapshots)


def _require_value(out: object) -> None:
    if type(out) is not Value:
        raise TypeError(f"f must return a Value built from the Values it is given, got "
                        f"{type(out).__name__}: {out!r:.80}")


# -- explaining a mismatch: kinks -----------------------------------------------------------------


def _explain_mismatch(result: GradcheckResult, run: _Runner, i: int, row: Row, eps: float,
                      close: Callable[[float, float], bool], allow_kinks: bool, atol: float,
                      rtol: float) -> None:
    f_i = _along(run.f, run.point, i)
    h = _step(row.value, eps)
    left, right = _one_sided(f_i, row.value, h)
    kink = _kink_between(run, i, h) if not close(left, right) else None
    if kink is not None:
        lo, hi = min(left, right), max(left, right)
        inside = lo - atol <= row.analytic <= hi + atol
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


def _kink_between(run: _Runner, i: int, h: float) -> str | None:
    """Describe the node of a kinked op whose operand touches or crosses a kink in [x-h, x+h]."""
    graphs = []
    for x in (run.point[i] - h, run.point[i], run.point[i] + h):
        point = list(run.point)
        point[i] = x
        graphs.append(_graph_order(run(point)[1]))
    middle = graphs[1]
    same_shape = all(len(g) == len(middle) and all(a.op == b.op for a, b in zip(g, middle,
                                                                                strict=True))
                     for g in graphs)
    names = _node_names(middle)
    for k, node in enumerate(middle):
        kinks = OPS[node.op].kinks if node.op in OPS else ()
        if not kinks:
            continue
        operand = node.parents[0]
        x = operand.data
        for kink in kinks:
            sides = ([g[k].parents[0].data - kink for g in graphs] if same_shape
                     else [x - kink])
            if min(sides) <= 0 <= max(sides):
                return _kink_text(node, names, run.names[i], x, kink)
    return None


def _kink_text(node: Value, names: dict[Value, str], input_name: str, x: float,
               kink: float) -> str:
    subgradient = _local(node)[0]
    operand = names[node.parents[0]]
    where = (f"{input_name} sits on a kink of {node.op} at {kink:g}" if operand == input_name
             else f"{names[node]} = {_expression(node, names)} sits on a kink of {node.op} at "
                  f"{kink:g} ({operand} = {x!r})")
    if x != kink:
        where = where.replace("sits on", "is within a finite-difference step of")
    return (f"{where}; deltagrad uses the subgradient {subgradient:g} (PyTorch's convention), "
            "which finite differences cannot confirm")


# -- naming the culprit ---------------------------------------------------------------------------


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

    For each node and each operand that takes a gradient, the rule the backward pass uses
    (``engine.derivatives.RULES``) is compared with central differences of the op's forward
    function with that operand alone moved (relative step). Operands within a step of a kink
    and points where the numeric value is not finite are skipped.
    """
    order = _graph_order(root)
    names = _node_names(order)
    close = _closeness(atol, rtol)
    found = []
    for node in order:
        if not node.parents or node.op not in OPS:
            continue
        op = OPS[node.op]
        data = [p.data for p in node.parents]
        local = _local(node)
        for j, d in enumerate(local):
            if j in op.constants or (j == 0 and _near_kink(data[0], op.kinks, eps)):
                continue
            numeric = _derivative(_operand_alone(op.forward, data, j), data[j], eps, "central")
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
    return any(abs(x - k) <= 2 * _step(x, eps) for k in kinks)


def _local_message(node: Value, names: dict[Value, str], j: int, rule: float,
                   numeric: float) -> str:
    at = ", ".join(dict.fromkeys(f"{names[p]} = {p.data!r}" for p in node.parents
                                 if not _is_constant(p, names)))
    which = f" for operand {j + 1} ({names[node.parents[j]]})" if len(node.parents) > 1 else ""
    return (f"{names[node]} = {_expression(node, names)} at {at}: rule gives {rule:.6g}, "
            f"numeric {numeric:.6g}{which}: check {node.op}'s local derivative")


def _find_culprit(run: _Runner, result: GradcheckResult, g: float, atol: float,
                  rtol: float) -> Culprit | None:
    """The first wrong local rule; else the first node the backward pass got wrong."""
    _, out = run()
    for mismatch in check_local(out, atol=atol, rtol=rtol):
        names = _node_names(_graph_order(out))
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


def _backward_culprit(run: _Runner, seed: float, passes: int, atol: float,
                      rtol: float) -> Culprit | None:
    """Compare every node's grad after ``passes`` backward(seed) with a plain reference pass."""
    _, out = run()
    for _ in range(passes):
        out.backward(seed)
    order = _graph_order(out)
    names = _node_names(order)
    expected, contributions = _reference_grads(out, order, seed)
    close = _closeness(atol, rtol)
    for node in reversed(order):  # from the output back: where the error enters
        if _is_constant(node, names):
            continue
        if node.parents:  # interior nodes hold the last pass's gradient, the output its seed
            want = seed if node is out else expected.get(node, 0.0)
        else:  # leaves accumulate over the passes
            want = expected.get(node, 0.0) * passes
        if close(node.grad, want):
            continue
        uses = contributions.get(node, [])
        parts = " + ".join(f"{c:.6g} (from {names[user]})" for user, c in uses)
        chain = f" = {parts}" if len(uses) > 1 else ""
        what = names[node] if not node.parents else f"{names[node]} = {_expression(node, names)}"
        if passes > 1 and node.parents:
            message = (f"after {passes} backward passes {what} holds grad {node.grad:.6g}, but an "
                       f"interior node must hold only the last pass's gradient {want:.6g}: "
                       "reset interior gradients to 0 at the start of each backward pass")
        else:
            message = (f"backward left {what} with grad {node.grad:.6g}, but the chain rule "
                       f"gives {want:.6g}{chain}: check that backward adds (+=) the "
                       "contribution of every use, multiplies each local derivative by the "
                       "upstream gradient, and visits each node only after all nodes that use it")
        return Culprit(names[node], node.op, message)
    return None


def _reference_grads(root: Value, order: list[Value], seed: float
                     ) -> tuple[dict[Value, float], dict[Value, list[tuple[Value, float]]]]:
    """d root / d node for every node by a plain reverse pass, and each use's contribution."""
    grads: dict[Value, float] = {root: seed}
    contributions: dict[Value, list[tuple[Value, float]]] = {}
    for node in reversed(order):
        if not node.parents:
            continue
        g = grads.get(node, 0.0)
        for parent, d in zip(node.parents, _local(node), strict=True):
            grads[parent] = grads.get(parent, 0.0) + d * g
            contributions.setdefault(parent, []).append((node, d * g))
    return grads, contributions


def _local(node: Value) -> tuple[float, ...]:
    """The local derivatives the backward pass uses for this node (from its table entry)."""
    return tuple(local_derivatives(node)[1])


# -- graph order and node names -------------------------------------------------------------------


def _graph_order(root: Value) -> list[Value]:
    """root's graph in a topological order (parents first), by depth-first search: its own
    traversal, independent of the engine's, so the diagnosis does not share the engine's bugs."""
    order: list[Value] = []
    seen = {root}
    stack: list[tuple[Value, Iterator[Value]]] = [(root, iter(root.parents))]
    while stack:
        node, operands = stack[-1]
        parent = next(operands, None)
        if parent is None:
            stack.pop()
            order.append(node)
        elif parent not in seen:
            seen.add(parent)
            stack.append((parent, iter(parent.parents)))
    return order


def _node_names(order: list[Value]) -> dict[Value, str]:
    """Labels where set; else v<k>, k the node's position in creation order (stable between
    runs, unlike memory addresses); constant leaves are shown as their number."""
    by_creation = sorted(order, key=lambda v: v._seq)
    names = {}
    for k, node in enumerate(by_creation):
        if node.label:
            names[node] = node.label
        elif not node.parents:
            names[node] = _number(node.data)
        else:
            names[node] = f"v{k}"
    return names


def _is_constant(node: Value, names: dict[Value, str]) -> bool:
    return not node.parents and not node.label and names.get(node) == _number(node.data)


def _number(x: float) -> str:
    return repr(float(x))


def _expression(node: Value, names: dict[Value, str]) -> str:
    """``v5 * v3``, ``tanh(v2)``, ``leaky_relu(v2, 0.01)``: a node as its op applied to names."""
    return written(node.op, [names[p] for p in node.parents])


# -- small pieces ---------------------------------------------------------------------------------


def _floats(inputs: Sequence[object]) -> list[float]:
    point = []
    for i, x in enumerate(inputs):
        if type(x) is Value:
            x = x.data
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise TypeError(f"input {i} must be a real number or a Value, got "
                            f"{type(x).__name__}: {x!r:.80}")
        point.append(float(x))
    return point


def _check_options(eps: float, method: str) -> None:
    if not (isinstance(eps, (int, float)) and 0 < eps < 1):
        raise ValueError(f"eps must be a number between 0 and 1 (a relative step), got {eps!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


def _check_upstream(upstream: float | None) -> None:
    """An upstream gradient the chain-rule checks can fail with: finite, not 0, 1 or -1."""
    if upstream is None:
        return
    if isinstance(upstream, bool) or not isinstance(upstream, numbers.Real):
        raise TypeError(f"upstream must be a number, got {type(upstream).__name__}")
    why = {
        0.0: "backward(0) gives every gradient 0, so stale_interior_grads cannot fail",
        1.0: "backward(1) is the pass already checked, so missing_chain_rule cannot fail",
        -1.0: "with |g| = 1, multiplying by g cannot be told from dividing by it or using its "
              "sign, so missing_chain_rule is blind to those slips",
    }.get(float(upstream))
    if why is None and not math.isfinite(upstream):
        why = "a non-finite g makes every gradient inf or nan, so the checks mean nothing"
    if why is not None:
        raise ValueError(f"upstream = {upstream!r} would weaken gradcheck: {why}; pick a finite "
                         "g with |g| away from 0 and 1, such as 2.5, or leave the default")


def _closeness(atol: float, rtol: float) -> Callable[[float, float], bool]:
    def close(actual: float, expected: float) -> bool:
        return actual == expected or abs(actual - expected) <= atol + rtol * abs(expected)
    return close


def _identical(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _row(name: str, value: float, analytic: float, numeric: float, fd_err: float) -> Row:
    abs_err = abs(analytic - numeric)
    rel_err = abs_err / abs(numeric) if numeric else (0.0 if abs_err == 0 else math.inf)
    return Row(name, value, analytic, numeric, abs_err, rel_err, fd_err)


def _table(rows: list[Row]) -> str:
    header = ("input", "value", "analytic", "numeric", "abs err", "rel err", "fd err")
    cells = [header] + [(r.name, f"{r.value:.6g}", f"{r.analytic:.6g}", f"{r.numeric:.6g}",
                         f"{r.abs_err:.2e}", f"{r.rel_err:.2e}", f"{r.fd_err:.1e}") for r in rows]
    widths = [max(len(row[k]) for row in cells) for k in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) if k == 0 else c.rjust(w)
                               for k, (c, w) in enumerate(zip(row, widths, strict=True)))
                     for row in cells)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3g}x" if b else "not a multiple of"


def _upstream(point: list[float]) -> float:
    """A reproducible 'random' upstream gradient, far from 0, 1 and -1."""
    rng = random.Random(repr(point))
    return rng.choice((-1.0, 1.0)) * rng.uniform(1.5, 3.0)


def _function_name(f: object) -> str:
    """How a message names f: a function's name, a Program's expression; never an address."""
    if isinstance(f, Program):
        return f.expression
    name = getattr(f, "__name__", None)
    if name == "<lambda>":
        return "f"
    return f"{name}()" if name else repr(f)
