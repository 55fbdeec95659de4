"""The old path of ``engine.testing.strategies`` (moved in 0.2): the same module object."""
import sys

from engine.testing import strategies

sys.modules[__name__] = strategies
