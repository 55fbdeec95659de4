"""The old path of ``engine.testing.programs`` (moved in 0.2): the same module object."""
import sys

from engine.testing import programs

sys.modules[__name__] = programs
