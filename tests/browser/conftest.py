"""Headless Chromium for the browser tests: Debian's ``chromium`` driven by Playwright.

These tests need two things the README's pip-only test command does not bring: the ``chromium``
package (``apt-get install chromium``) and ``pip install playwright`` (never ``playwright
install``: the browser is the system's); the site's tests also build the site, which needs
``npm``. ``.ci/run`` installs them, builds the site and runs
``.venv/bin/python -m pytest -q tests/browser``. Anything missing is an error, not a skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Request, sync_playwright  # missing: an error

CHROMIUM = os.environ.get("DELTAGRAD_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Browser:
    """A fresh Chromium profile with every request recorded and any network request refused."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.local: tuple[str, ...] = ("file:", "data:", "about:")
        self.requests: list[str] = []
        self.refused: list[str] = []
        context.on("request", self._record)
        context.route("**/*", self._route)

    def allow(self, origin: str) -> None:
        """Let requests to ``origin`` through (a server on this machine, for the site's tests)."""
        self.local = (*self.local, origin)

    def _record(self, request: Request) -> None:
        self.requests.append(request.url)

    def _route(self, route, request: Request) -> None:
        if request.url.startswith(self.local):
            route.continue_()
        else:
            self.refused.append(request.url)
            route.abort()

    def network(self) -> list[str]:
        """Every request that would have left the machine."""
        return self.refused + [u for u in self.requests if not u.startswith(self.local)]


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Browser]:
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).is_file(), (
        f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set DELTAGRAD_CHROMIUM)")
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 900, "height": 700})
        try:
            yield Browser(context)
        finally:
            context.close()
