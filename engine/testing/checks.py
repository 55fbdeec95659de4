"""gradcheck: the engine's gradients against numeric ones, plus probes for the classic
backward-pass bugs (not re-entrant, chain rule forgotten, stale interior gradients)."""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable

from engine.functional import floats
from engine.testing.culprits import find_culprit
from engine.testing.mismatch import explain_mismatch
from engine.testing.numeric import along, check_options, derivative
from engine.testing.report import (
    KINK,
    MISSING_CHAIN_RULE,
    NOT_REENTRANT,
    STALE_INTERIOR_GRADS,
    Failure,
    GradcheckError,
    GradcheckResult,
    Row,
    function_name,
    make_row,
)
from engine.testing.runner import Runner, default_inputs, input_names
from engine.testing.tolerance import check_tolerances, closeness, identical
from engine.value import Value


def gradcheck(f: Callable[..., Value], *inputs: float | Value, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, method: str = "central",
              upstream: float | None = None, allow_kinks: bool = False,
              raise_exception: bool = True) -> GradcheckResult:
    """Check the gradients of ``f`` at ``inputs`` and diagnose what is wrong.

    ``f`` maps Values to one Value; it is re-run on fresh leaves for every check, so Python
    control flow in it is respected. ``inputs`` are numbers or Values (their labels name the
    rows; unlabelled inputs are x0, x1, ...); at least one is needed. The defaults are PyTorch's;
    tolerances must be finite and >= 0. The checks:

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
    point = floats(inputs)
    if not point:
        raise ValueError("gradcheck has no inputs to check, so it would compare no gradient "
                         "and pass whatever backward does: give the point after f, as in "
                         "gradcheck(f, 0.5, -1.2)")
    check_options(eps, method)
    check_tolerances(atol, rtol)
    _check_upstream(upstream)
    run = Runner(f, point, input_names(inputs))
    try:
        result = _check(run, eps, atol, rtol, method, upstream, allow_kinks)
    finally:
        run.restore()  # f's captured Values (weights, ...) keep the grads they had
    if raise_exception and not result.ok:
        raise GradcheckError(result)
    return result


def assert_grads_match_numeric(f: Callable[..., Value], *inputs: float | Value,
                               **options: object) -> GradcheckResult:
    """Assert that ``gradcheck(f, *inputs, **options)`` passes (raises GradcheckError if not).

    ``f`` may be a :class:`engine.programs.Program` drawn by ``engine.strategies``; without
    ``inputs`` its own ``point`` is used.
    """
    inputs = default_inputs(f, inputs)
    return gradcheck(f, *inputs, raise_exception=True, **options)  # type: ignore[arg-type]


def _check(run: Runner, eps: float, atol: float, rtol: float, method: str,
           upstream: float | None, allow_kinks: bool) -> GradcheckResult:
    """gradcheck's checks, in order; stops after not_reentrant, which the others need."""
    leaves, out = run()
    out.backward()
    analytic = [leaf.grad for leaf in leaves]
    result = GradcheckResult(function_name(run.f), _rows(run, analytic, eps, method))
    failure = _reentrancy_failure(run, analytic)
    if failure is not None:
        result.failures.append(failure)
        return result
    close = closeness(atol, rtol)
    for i, row in enumerate(result.rows):
        if not close(row.analytic, row.numeric):
            explain_mismatch(result, run, i, eps, atol, rtol, allow_kinks)
    g = _upstream(run.point) if upstream is None else float(upstream)
    result.failures += _chain_rule_failures(run, analytic, g, close)
    if result.failures and any(k != KINK for k in result.kinds):
        result.culprit = find_culprit(run, result, g, atol, rtol)
    return result


def _rows(run: Runner, analytic: list[float], eps: float, method: str) -> list[Row]:
    """One row per input: the numeric derivative, and its uncertainty from a step twice as big."""
    rows = []
    for i, (name, x, a) in enumerate(zip(run.names, run.point, analytic, strict=True)):
        f_i = along(run.f, run.point, i)
        n = derivative(f_i, x, eps, method)
        rows.append(make_row(name, x, a, n, abs(n - derivative(f_i, x, 2 * eps, method))))
    return rows


def _reentrancy_failure(run: Runner, analytic: list[float]) -> Failure | None:
    """not_reentrant when a second fresh backward pass gives other gradients than the first."""
    again = run.grads(seed=1.0)
    if all(identical(a, b) for a, b in zip(analytic, again, strict=True)):
        return None
    pairs = ", ".join(f"{n}: {a!r} then {b!r}" for n, a, b in zip(run.names, analytic, again,
                                                                    strict=True) if a != b)
    return Failure(NOT_REENTRANT, (
        f"two fresh backward passes gave different gradients ({pairs}): does f use "
        "randomness or state kept between calls? The other checks need a repeatable f"))


def _chain_rule_failures(run: Runner, analytic: list[float], g: float,
                         close: Callable[[float, float], bool]) -> list[Failure]:
    """missing_chain_rule and stale_interior_grads, from two backward(g) on one graph."""
    names, failures = run.names, []
    scaled, doubled = run.grads(seed=g, passes=2)
    wrong = [(n, a * g, s) for n, a, s in zip(names, analytic, scaled, strict=True)
             if not close(s, a * g)]
    if wrong:
        got = ", ".join(f"{n} got {s:.6g} instead of {e:.6g}" for n, e, s in wrong)
        failures.append(Failure(MISSING_CHAIN_RULE, (
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
        failures.append(Failure(STALE_INTERIOR_GRADS, (
            f"backward twice on one graph must give exactly twice the leaf gradients ({got}); "
            f"{why}")))
    return failures


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


def _upstream(point: list[float]) -> float:
    """A reproducible 'random' upstream gradient, far from 0, 1 and -1."""
    rng = random.Random(repr(point))
    return rng.choice((-1.0, 1.0)) * rng.uniform(1.5, 3.0)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3g}x" if b else "not a multiple of"
