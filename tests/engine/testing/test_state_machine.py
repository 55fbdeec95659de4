"""engine.stateful.GraphMachine on the real engine, and its dual-number reference against
derivatives worked out by hand. (tests/engine/testing/test_bug_zoo.py checks that the machine
catches bugs.)"""

import math
import subprocess
import sys

import pytest
from hypothesis import settings

from engine import Value
from engine.derivatives import NONZERO, REAL
from engine.testing import planted
from engine.testing.stateful import OPERATIONS, Dual, GraphMachine

TestGraphMachine = GraphMachine.TestCase
TestGraphMachine.settings = settings(settings.default, stateful_step_count=30)


@pytest.mark.parametrize(("op", "args", "expected"), [
    ("+", (Dual(2.0, 1.0), Dual(3.0, 0.0)), Dual(5.0, 1.0)),
    ("*", (Dual(2.0, 1.0), Dual(3.0, 0.0)), Dual(6.0, 3.0)),  # d(xy)/dx = y
    ("*", (Dual(2.0, 1.0), Dual(2.0, 1.0)), Dual(4.0, 4.0)),  # d(x·x)/dx = 2x
    ("/", (Dual(1.0, 0.0), Dual(2.0, 1.0)), Dual(0.5, -0.25)),  # d(1/y)/dy = -1/y²
    ("square", (Dual(-3.0, 1.0),), Dual(9.0, -6.0)),
    ("tanh", (Dual(0.5, 1.0),), Dual(math.tanh(0.5), 1 / math.cosh(0.5) ** 2)),
    ("sigmoid", (Dual(0.0, 1.0),), Dual(0.5, 0.25)),
    ("sigmoid", (Dual(-800.0, 1.0),), Dual(0.0, 0.0)),  # no overflow
    ("exp", (Dual(1.0, 2.0),), Dual(math.e, 2 * math.e)),
    ("relu", (Dual(0.0, 1.0),), Dual(0.0, 0.0)),  # subgradient 0 at 0
    ("relu", (Dual(0.5, 1.0),), Dual(0.5, 1.0)),
    ("abs", (Dual(-2.0, 1.0),), Dual(2.0, -1.0)),
    ("abs", (Dual(0.0, 1.0),), Dual(0.0, 0.0)),  # subgradient 0 at 0
    ("neg", (Dual(1.5, 1.0),), Dual(-1.5, -1.0)),
    ("sum3", (Dual(1.0, 1.0), Dual(2.0, 0.0), Dual(3.0, 1.0)), Dual(6.0, 2.0)),
])
def test_the_reference_by_hand(op, args, expected):
    got = OPERATIONS[op].reference(*args)
    assert got.value == pytest.approx(expected.value, rel=1e-15, abs=1e-300)
    assert got.tangent == pytest.approx(expected.tangent, rel=1e-15, abs=1e-300)


@pytest.mark.parametrize("module", ["engine.stateful", "engine.strategies"])
def test_without_hypothesis_the_import_error_says_how_to_install_it(module):
    blocked = "import sys; sys.modules['hypothesis'] = None; "  # import hypothesis now fails
    done = subprocess.run([sys.executable, "-c", f"{blocked}import {module}"],
                          capture_output=True, text=True, timeout=60)
    last = done.stderr.strip().splitlines()[-1]
    assert last == (f'ImportError: {module} needs hypothesis: pip install '
                    '"deltagrad[strategies]" (or pip install hypothesis)')


def test_the_machine_keeps_operands_inside_the_domain_their_entry_declares():
    machine = GraphMachine()
    machine.add_leaf(1.0)
    machine.add_leaf(0.01)
    machine._add_node("/", (0, 1))  # 1 / 0.01 = 100 is small enough, but "/" needs y nonzero
    assert len(machine.values) == 2
    machine._add_node("*", (0, 1))
    assert len(machine.values) == 3
    with planted("*", domain=(REAL, NONZERO)):  # the machine reads the entry, not op names
        machine._add_node("*", (0, 1))
    assert len(machine.values) == 3


def test_each_operation_builds_the_node_of_its_entry():
    for name, operation in OPERATIONS.items():
        node = operation.build(*[Value(0.5 + k) for k in range(operation.arity)])
        assert node.op == operation.entry, name
