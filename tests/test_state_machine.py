"""engine.stateful.GraphMachine on the real engine, and its dual-number reference against
derivatives worked out by hand. (tests/test_bug_zoo.py checks that the machine catches bugs.)"""

import math
import subprocess
import sys

import pytest
from hypothesis import settings

from engine.stateful import OPERATIONS, Dual, GraphMachine

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
