"""Seeds: every random draw of ``nn`` (initial weights, data sets, shuffling) goes through one."""

from __future__ import annotations

import numbers
import random

Seed = int | random.Random | None
"""An int (reproducible), a ``random.Random`` (shared: its draws follow each other) or ``None``."""


def as_random(seed: Seed) -> random.Random:
    """The ``random.Random`` that ``seed`` stands for (``None``: freshly seeded by the OS)."""
    if isinstance(seed, random.Random):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
        return random.Random(None if seed is None else int(seed))
    raise TypeError(f"seed must be an int, a random.Random or None, not {type(seed).__name__}")
