"""The old path of ``engine.testing.stateful`` (moved in 0.2): the same module object."""
import sys

from engine.testing import stateful

sys.modules[__name__] = stateful
