"""Comparing deltagrad's values and gradients with PyTorch's (float64), an independent engine.

Programs are translated op by op with each op's row of PyTorch translations,
``engine.testing.torch_ops.translation(name)(torch_module, *operands)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from engine.functional import floats
from engine.testing.programs import Program
from engine.testing.report import function_name
from engine.testing.runner import Runner, default_inputs, input_names
from engine.testing.tolerance import check_tolerances, same_float
from engine.testing.torch_ops import translation
from engine.value import Value


def assert_grads_match_torch(f: Callable[..., object], *inputs: float | Value,
                             atol: float = 1e-9, rtol: float = 1e-7,
                             torch_ops: Mapping[str, Callable[..., object]] | None = None) -> None:
    """Assert that deltagrad's gradients of ``f`` equal PyTorch's (float64), or skip the test.

    Without torch installed, the calling test is skipped with a reason that says so. ``f`` is
    either a :class:`engine.programs.Program` (each op is translated by its row of
    ``engine.testing.torch_ops``; ``torch_ops`` adds or replaces translations, functions of
    the operands, e.g. for a user-registered op without one), or a function that uses only
    what Values and tensors share (operators, ``.tanh()``, ``.exp()``, ...). nan equals nan,
    and inf must match exactly. Values ``f`` captures keep their grads.
    """
    check_tolerances(atol, rtol)
    try:
        import torch  # optional: only this helper needs it
    except ImportError:
        _skip("torch is not installed, so deltagrad's gradients were not compared with "
              "PyTorch's: pip install torch to run this check")
        return
    inputs = default_inputs(f, inputs)
    point, names = floats(inputs), input_names(inputs)
    if not point:
        raise ValueError("assert_grads_match_torch has no inputs, so it would compare no "
                         "gradient: give the point after f, as in assert_grads_match_torch(f, 0.5)")
    ours = _deltagrad_side(f, point, names)
    theirs = _torch_side(torch, f, point, torch_ops or {})
    problems = []
    if not same_float(ours[0], theirs[0], atol, rtol):
        problems.append(f"value: deltagrad {ours[0]!r}, torch {theirs[0]!r}")
    for name, a, t in zip(names, ours[1], theirs[1], strict=True):
        if not same_float(a, t, atol, rtol):
            problems.append(f"d/d{name}: deltagrad {a!r}, torch {t!r}")
    if problems:
        at = ", ".join(f"{n} = {x!r}" for n, x in zip(names, point, strict=True))
        raise AssertionError(f"deltagrad and PyTorch disagree for {function_name(f)} at {at}:\n"
                             + "\n".join(problems))


def _deltagrad_side(f: Callable[..., object], point: list[float],
                    names: list[str]) -> tuple[float, list[float]]:
    """f's value and gradients by deltagrad; the Values f captures keep their grads."""
    run = Runner(f, point, names)  # type: ignore[arg-type]
    leaves, out = run()
    try:
        out.backward()
    finally:
        run.restore()
    return out.data, [leaf.grad for leaf in leaves]


def _torch_side(torch: object, f: Callable[..., object], point: list[float],
                extra: Mapping[str, Callable[..., object]]) -> tuple[float, list[float]]:
    """f's value and gradients by PyTorch, on float64 tensors."""
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True)  # type: ignore[attr-defined]
               for x in point]
    if isinstance(f, Program):
        out = f.build_with(tensors, _translations(torch, f, extra))
    else:
        out = f(*tensors)
    out.backward()  # type: ignore[attr-defined]
    grads = [0.0 if t.grad is None else float(t.grad.item()) for t in tensors]
    return float(out.item()), grads  # type: ignore[attr-defined]


def _translations(torch: object, program: Program,
                  extra: Mapping[str, Callable[..., object]]) -> dict[str, Callable[..., object]]:
    """Each op of the program as a function of tensors: ``extra``'s, else its entry's torch."""
    ops: dict[str, Callable[..., object]] = {}
    for name in dict.fromkeys(ins.op for ins in program.instructions):
        if name in extra:
            ops[name] = extra[name]
        elif translation(name) is not None:
            ops[name] = functools.partial(translation(name), torch)
        else:
            raise KeyError(f"no translation for the operation {name!r} into PyTorch: give its "
                           f"Op a torch field (torch=lambda t, x: ...), add a row to "
                           f"engine.testing.torch_ops.TORCH or pass "
                           f"torch_ops={{{name!r}: ...}}")
    return ops


def _skip(reason: str) -> None:
    try:
        import pytest
    except ImportError:  # unittest (and pytest) treat SkipTest as a skip
        import unittest
        raise unittest.SkipTest(reason) from None
    pytest.skip(reason)
