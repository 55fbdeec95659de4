"""The engine against torch.autograd: random graphs of every op, evaluated by both, same gradients.

Each program drawn by ``engine.strategies.graphs`` is built twice: with Values (``program(...)``)
and with float64 tensors through each op's row of ``engine.testing.torch_ops``
(``Program.build_with``). PyTorch is the independent oracle: its derivatives are its own code.
The strategies keep every point finite and away from domain edges and kinks, where deltagrad and
PyTorch differ on purpose (nan masking, relu'(nan)); these tests never go there.

Tolerance: both sides compute in float64; the libraries' exp, tanh, log, pow may round
differently in the last place, and these few-ulp differences grow through a graph of at most 8
nodes with values bounded by 1e3: the largest difference seen in 3,000 graphs was 3e-15
(relative, or absolute below 1), so 1e-12 leaves a margin of 300, while a wrong derivative
misses by far more.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings

from engine import Value
from engine.derivatives import OPS
from engine.testing.programs import Instruction, Program
from engine.testing.strategies import graphs, op_names
from engine.testing.torch_ops import translation

TOLERANCE = 1e-12


def torch_ops() -> dict:
    """Each op's torch translation, from its row of engine.testing.torch_ops."""
    return {name: (lambda row: lambda *xs: row(torch, *xs))(translation(name))
            for name in OPS if translation(name) is not None}


def gradients_disagree(program: Program) -> list[str]:
    """What differs between deltagrad's and PyTorch's value and input gradients at the point."""
    leaves = [Value(x, label=f"x{i}") for i, x in enumerate(program.point)]
    out = program(*leaves)
    out.backward()
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in program.point]
    t_out = program.build_with(tensors, torch_ops())
    t_out.backward()
    pairs = [("value", out.data, t_out.item())]
    pairs += [(f"d/dx{i}", leaf.grad, 0.0 if t.grad is None else t.grad.item())
              for i, (leaf, t) in enumerate(zip(leaves, tensors, strict=True))]
    return [f"{what}: deltagrad {ours!r}, torch {theirs!r}" for what, ours, theirs in pairs
            if not math.isclose(ours, theirs, rel_tol=TOLERANCE, abs_tol=TOLERANCE)]


def test_every_op_has_a_torch_translation():
    assert [name for name in OPS if translation(name) is None] == []


@settings(max_examples=max(300, settings.default.max_examples))  # the thorough profile: more
@given(graphs())
def test_random_graphs_of_all_ops_match_torch(program):
    problems = gradients_disagree(program)
    assert not problems, f"{program!r}\n" + "\n".join(problems)


@pytest.mark.parametrize("op", op_names())
def test_graphs_of_each_op_match_torch(op):
    """Graphs of this op alone (with + to combine), so every op is checked in every run."""

    @settings(max_examples=40)
    @given(graphs(ops=[op, "+"], max_nodes=6))
    def check(program):
        problems = gradients_disagree(program)
        assert not problems, f"{program!r}\n" + "\n".join(problems)

    check()


def test_the_comparison_catches_a_wrong_derivative():
    """A planted bug (tanh' = 1 - out instead of 1 - out^2) makes the comparison disagree."""
    program = Program(1, (Instruction("tanh", (0,)),), output=1, point=(0.5,))
    entry, rule = OPS["tanh"], OPS["tanh"].local
    entry.local = lambda x, out: (1.0 - out,)
    try:
        problems = gradients_disagree(program)
    finally:
        entry.local = rule
    wrong = 1.0 - math.tanh(0.5)
    assert len(problems) == 1 and problems[0].startswith(f"d/dx0: deltagrad {wrong!r}, torch ")
    assert gradients_disagree(program) == []


@pytest.mark.parametrize("point", [(0.5, -1.0, 2.0), (3.0, 3.0), (1.0, math.inf)])
def test_max_shift_matches_a_detached_max_in_torch(point):
    """max_shift is left out of the random graphs (finite differences cannot check a derivative
    that is 0 by definition): its value and its zero gradients against torch here."""
    program = Program(len(point), (Instruction("max_shift", tuple(range(len(point)))),
                                   Instruction("*", (len(point), 0))), output=len(point) + 1,
                      point=point)
    assert gradients_disagree(program) == []
