"""Hypothesis profiles: ``ci`` (deterministic, the default under CI=true), ``dev`` and ``thorough``.

Choose one with ``DELTAGRAD_PROFILE=thorough python -m pytest``.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, max_examples=60, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile("thorough", max_examples=5_000, deadline=None)
settings.load_profile(
    os.environ.get("DELTAGRAD_PROFILE", "ci" if os.environ.get("CI") else "dev"))
