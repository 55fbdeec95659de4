"""The browser tests (tests/browser/) run only when asked for by path, e.g.
``.venv/bin/python -m pytest -q tests/browser``: they need Chromium and Playwright, which the
README's pip-only test command does not install (``.ci/run`` installs both and runs them).

Hypothesis profiles ``dev``, ``ci`` (deterministic, the default under CI=true) and ``thorough``,
from ``engine.strategies.register_profiles``.

Choose one with ``DELTAGRAD_PROFILE=thorough python -m pytest``; ``DELTAGRAD_MAX_EXAMPLES=N``
overrides its number of examples per test.
"""

from pathlib import Path

from engine.testing.strategies import register_profiles

register_profiles()

BROWSER_TESTS = Path(__file__).resolve().parent / "browser"


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    """Leave tests/browser out of a plain ``pytest`` run; collect it when a path inside it is
    named on the command line."""
    if collection_path.resolve() != BROWSER_TESTS:
        return None
    named = [(config.invocation_params.dir / arg.split("::")[0]).resolve() for arg in config.args]
    return None if any(p == BROWSER_TESTS or BROWSER_TESTS in p.parents for p in named) else True
