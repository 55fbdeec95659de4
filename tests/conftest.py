"""Hypothesis profiles ``dev``, ``ci`` (deterministic, the default under CI=true) and ``thorough``,
from ``engine.strategies.register_profiles``.

Choose one with ``DELTAGRAD_PROFILE=thorough python -m pytest``; ``DELTAGRAD_MAX_EXAMPLES=N``
overrides its number of examples per test.
"""

from engine.strategies import register_profiles

register_profiles()
