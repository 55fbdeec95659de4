"""The browser branch of engine.pictures.render, run in CPython with a stand-in for Pyodide's
``js`` module whose viz.js is graphviz-pure: SVG goes through the page's viz.js, PNG and a page
without viz.js get errors that say what to do. (tests/browser runs the real thing in Chromium.)"""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from engine import Value, draw_graph
from engine.pictures import render
from engine.pictures.render import RendererNotFound


class FakeViz:
    """viz.js's ``renderString(dot, {format})``, answered by graphviz-pure; calls recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.exe = render.find_renderer()
        assert self.exe is not None, "graphviz-pure is a test dependency"

    def renderString(self, source: str, options: dict) -> str:  # viz.js's name
        self.calls.append((source, options))
        if "syntax error" in source:
            raise Exception("Error: syntax error in line 1")  # as a JsException would
        return subprocess.run([self.exe, f"-T{options['format']}"], input=source.encode(),
                              capture_output=True, check=True).stdout.decode()


@pytest.fixture
def browser(monkeypatch):
    viz = FakeViz()
    page = SimpleNamespace(deltagradViz=viz, JSON=SimpleNamespace(parse=json.loads))
    monkeypatch.setattr(render, "IN_BROWSER", True)
    monkeypatch.setitem(sys.modules, "js", page)
    monkeypatch.setattr(render, "find_renderer", lambda *a: pytest.fail("ran a program"))
    return page


def test_svg_comes_from_the_pages_viz_js(browser):
    x = Value(2.0, label="x")
    y = (x * x).tanh()
    y.label = "y"
    drawing = draw_graph(y)
    svg = drawing.svg()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and ">y</text>" in svg
    assert browser.deltagradViz.calls == [(drawing.source, {"format": "svg"})]


def test_png_in_the_browser_is_a_clear_error(browser):
    with pytest.raises(RendererNotFound, match=r"no PNG in the browser.*install deltagrad"):
        draw_graph(Value(1.0, label="x")).png()
    assert browser.deltagradViz.calls == []


def test_a_page_without_viz_js_is_told_how_to_load_it(browser):
    del browser.deltagradViz
    with pytest.raises(RendererNotFound, match=r"load @viz-js/viz"):
        render.render("digraph { a }", "svg")


def test_a_viz_js_error_is_a_runtime_error_naming_viz_js(browser):
    with pytest.raises(RuntimeError, match=r"viz.js could not draw the graph: .*syntax error"):
        render.render("digraph { syntax error", "svg")
