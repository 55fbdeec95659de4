"""The static site (``python browser/build.py``) in headless Chromium, offline: Pyodide starts
with deltagrad from the site's own files, the playground's starter examples show the numbers
CPython computes, drawings are SVG, the film-strip player steps, a link carries the code, and
every cell of notebooks 01 and 04 runs in the page. Any request that leaves the local server is
refused and the test fails.

``DELTAGRAD_SITE`` names an already built site (``.ci/run`` builds it once with the documented
command); without it the site is built here, into a temporary folder.
"""

from __future__ import annotations

import functools
import http.server
import json
import math
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Value, film_strip
from engine.testing import gradcheck

ROOT = Path(__file__).resolve().parents[2]
LOAD_TIMEOUT = 180_000  # ms: Pyodide on a busy 2-core machine can take a while
RUN_TIMEOUT = 300_000


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    built = os.environ.get("DELTAGRAD_SITE")
    if built:
        folder = Path(built)
        assert (folder / "site.json").is_file(), f"DELTAGRAD_SITE={built} is not a built site"
        return folder
    folder = tmp_path_factory.mktemp("site") / "_build"
    subprocess.run([sys.executable, str(ROOT / "browser" / "build.py"), "--out", str(folder)],
                   check=True)
    return folder


@pytest.fixture(scope="module")
def server(site, browser) -> Iterator[str]:
    """The site on a local HTTP server, the only origin the browser may reach."""
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{httpd.server_port}/"
    browser.allow(origin)
    try:
        yield origin
    finally:
        httpd.shutdown()
        httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def offline(browser):
    yield
    assert browser.network() == [], f"the site tried the network: {browser.network()}"


def open_page(browser, url: str):
    page = browser.context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=LOAD_TIMEOUT)
    assert errors == []
    return page


@pytest.fixture(scope="module")
def playground(browser, server):
    page = open_page(browser, server + "playground.html")
    assert page.evaluate("typeof globalThis.deltagradReady") == "number"
    assert page.evaluate("globalThis.pyodide === undefined")  # no CDN copy slipped in
    yield page
    page.close()


def run_in(page, code: str | None = None, example: str | None = None) -> str:
    """Run code (or a starter example) in the playground; the text of its output."""
    runs = int(page.get_attribute("#output", "data-runs") or 0)
    if example is not None:
        page.select_option("#example", example)
    if code is not None:
        page.fill("#code", code)
    page.click("#run")
    page.wait_for_selector(f"#output[data-runs='{runs + 1}']", timeout=RUN_TIMEOUT)
    return page.inner_text("#output")


def printed(text: str) -> dict[str, float]:
    """``name = number`` and ``name: data = number  grad = number`` pairs in printed text."""
    numbers = r"(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|nan|-?inf)"
    found = {name: float(x) for name, x in re.findall(rf"^\s*([\w.]+)\s+=\s+{numbers}", text,
                                                      re.M)}
    for name, data, grad in re.findall(rf"^\s*(\w+): data = {numbers}\s+grad = {numbers}",
                                       text, re.M):
        found[f"{name}.data"], found[f"{name}.grad"] = float(data), float(grad)
    return found


def same(shown: dict[str, float], expected: dict[str, float]) -> None:
    """The browser's numbers are CPython's, up to the last bits of libm's tanh, sin, log."""
    assert set(expected) <= set(shown), f"missing from the page: {set(expected) - set(shown)}"
    for name, x in expected.items():
        assert shown[name] == pytest.approx(x, rel=1e-13, abs=1e-15), name


# -- the playground ---------------------------------------------------------------------------


def neuron() -> dict[str, Value]:
    """The neuron example's Values, computed here in CPython: the example file itself is run (its
    ``display`` is the page's, so it shows nothing here), so the page and CPython run one code."""
    namespace = {"display": lambda shown: None}
    code = (ROOT / "browser" / "examples" / "neuron.py").read_text(encoding="utf-8")
    exec(compile(code, "neuron.py", "exec"), namespace)
    return {k: namespace[k] for k in ("o", "n", "x1", "w1", "x2", "w2", "b")}


def test_the_neuron_shows_cpythons_numbers_its_graph_as_svg_and_a_player(playground):
    text = run_in(playground, example="neuron")
    values = neuron()
    o, n = values["o"], values["n"]
    expected = {f"{k}.{f}": getattr(v, f) for k, v in values.items() for f in ("data", "grad")}
    same(printed(text), expected)
    assert o.data == pytest.approx(1 / math.sqrt(2)) and n.grad == pytest.approx(0.5)  # by hand
    drawing = playground.locator("#output > .output.svg svg")
    assert drawing.count() == 1
    labels = [t.strip() for t in drawing.locator("text").all_text_contents()]
    assert {"x1", "w1", "x2", "w2", "b", "n", "o", "tanh"} <= set(labels)
    assert "grad -1.5000" in labels  # x1's box, after backward
    assert playground.locator("#output .dg-film").count() == 1


def test_the_player_steps_in_the_page(playground):
    run_in(playground, example="neuron")
    strip = film_strip(neuron()["o"])  # the same film, made in CPython
    last = len(strip) - 1
    film = playground.locator("#output .dg-film")
    assert film.locator(".dg-count").inner_text() == f"0 / {last}"
    film.locator("[data-go=next]").click()
    film.locator("[data-go=next]").click()
    assert film.locator(".dg-count").inner_text() == f"2 / {last}"
    assert film.locator(".dg-frame:not([hidden]) svg").count() == 1
    assert film.locator(".dg-caption").inner_text() == strip.caption(2)
    film.locator("[data-go=last]").click()
    assert film.locator(".dg-count").inner_text() == f"{last} / {last}"
    assert film.locator(".dg-caption").inner_text() == strip.caption(last)


def test_the_survey_example_shows_its_gradients_trace_and_explanation(playground):
    text = run_in(playground, example="survey")
    x1, x2 = Value(2.0), Value(5.0)
    f = x1.log() + x1 * x2 - x2.sin()
    f.backward()
    same(printed(text), {"f": f.data, "x1.grad": x1.grad, "x2.grad": x2.grad})
    same(printed(text), {"f": math.log(2) + 10 - math.sin(5), "x1.grad": 1 / 2 + 5,
                         "x2.grad": 2 - math.cos(5)})  # the survey's numbers, by hand
    tables = playground.locator("#output .dg-trace table")
    assert tables.count() == 2  # forward primal trace, reverse adjoint trace
    assert "Reverse adjoint trace" in tables.nth(1).inner_text()
    assert playground.locator("#output > .output.html svg").count() == 1  # explain's paths


def test_the_planted_bug_is_caught_with_cpythons_numbers(playground):
    text = run_in(playground, example="planted_bug")
    x, y = 0.5, -1.2
    right = [row.analytic for row in gradcheck(lambda a, b: (a * b).tanh() + a, x, y).rows]
    assert right == pytest.approx([y * (1 - math.tanh(x * y) ** 2) + 1,
                                   x * (1 - math.tanh(x * y) ** 2)])  # CPython, and by hand
    wrong = [y * (1 - (x * y) ** 2) + 1, x * (1 - (x * y) ** 2)]  # the planted rule, by hand
    passed, failed = text.split("gradcheck failed")
    assert "gradcheck passed" in passed
    for rows, analytic in ((passed, right), (failed, wrong)):
        for k, expected in enumerate(analytic):
            row = re.search(rf"^x{k}\s+\S+\s+(\S+)\s+(\S+)", rows, re.M)
            assert row, f"no row for x{k} in {rows}"
            assert float(row[1]) == pytest.approx(expected, rel=1e-5)  # shown to 6 digits
            assert float(row[2]) == pytest.approx(right[k], rel=1e-5)  # numeric
    assert "culprit: v3 = tanh(v2)" in failed and "check tanh's local derivative" in failed


def test_png_in_the_browser_is_a_clear_error(playground):
    text = run_in(playground, code="from engine import Value, draw_graph\n"
                                   "draw_graph(Value(1.0, label='x')).png()")
    assert "RendererNotFound: no PNG in the browser" in text
    assert playground.locator("#output pre.error").count() == 1


BYTECODE_CHECK = r"""
import importlib.util, sys
checked = stale = 0
for name, module in sorted(sys.modules.items()):
    spec = getattr(module, "__spec__", None)
    if name.split(".")[0] in ("engine", "nn") and spec is not None and spec.has_location:
        with open(spec.cached, "rb") as f:  # no file: the page compiled the module itself
            header = f.read(16)
        with open(spec.origin, "rb") as f:
            source = f.read()
        checked += 1
        flags, key = int.from_bytes(header[4:8], "little"), header[8:16]
        stale += flags != 0b11 or key != importlib.util.source_hash(source)
print(f"modules = {checked}\nstale = {stale}\nwrites = {int(not sys.dont_write_bytecode)}")
"""


def test_deltagrad_is_imported_from_the_bytecode_the_site_ships(playground):
    """Pyodide never writes bytecode, so each imported module's __pycache__ file came from the
    site: hash-checked (flags 0b11) and made from the very source beside it."""
    text = run_in(playground, code=BYTECODE_CHECK)
    found = printed(text)
    assert found.keys() == {"modules", "stale", "writes"}, text  # FileNotFoundError: none shipped
    assert found["modules"] > 30 and found["stale"] == 0 and found["writes"] == 0


def test_an_endless_loop_leaves_the_page_responsive_and_stop_starts_python_again(playground):
    runs = int(playground.get_attribute("#output", "data-runs") or 0)
    playground.fill("#code", "n = 0\nwhile True:\n    n += 1")
    playground.click("#run")
    playground.wait_for_selector("#stop:not([disabled])")
    assert playground.is_disabled("#run")
    assert playground.evaluate("6 * 7") == 42  # Python runs in a worker: the page still answers
    playground.click("#stop")
    playground.wait_for_selector(f"#output[data-runs='{runs + 1}']")
    assert "Stopped: Python was started again" in playground.inner_text("#output")
    playground.wait_for_selector("#run:not([disabled])", timeout=LOAD_TIMEOUT)
    assert run_in(playground, code="print(6 * 7)").strip() == "42"


def test_a_shared_link_carries_the_code(browser, playground, server):
    code = "from engine import Value\nx = Value(3.0)\n(x * x).backward()\nprint('é', x.grad)"
    playground.fill("#code", code)
    playground.click("#share")
    link = playground.url
    assert "#code=" in link and link.startswith(server)
    page = open_page(browser, link)
    try:
        assert page.input_value("#code") == code
        assert page.get_attribute("#output", "data-runs") is None  # shown, not run
        assert run_in(page).strip() == "é 6.0"
    finally:
        page.close()
    playground.select_option("#example", "survey")  # a link pasted into an open playground
    assert "#code=" not in playground.url and playground.input_value("#code") != code
    playground.evaluate("fragment => { location.hash = fragment; }", link.split("#", 1)[1])
    playground.wait_for_function("code => document.getElementById('code').value === code", arg=code)


# -- the notebooks ----------------------------------------------------------------------------


def code_cells(name: str) -> list[str]:
    cells = json.loads((ROOT / "demos" / name).read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


@pytest.mark.parametrize("name", ["01-values-and-graphs.ipynb", "04-testing-gradients.ipynb"])
def test_every_cell_of_the_notebook_runs_in_the_page(browser, server, name):
    page = open_page(browser, f"{server}notebook.html?nb={name}&run=all")
    try:
        page.wait_for_selector("body[data-done]", timeout=RUN_TIMEOUT)
        cells = page.eval_on_selector_all(".cell.code", """cells => cells.map(c => ({
            status: c.dataset.status, source: c.querySelector('textarea').value,
            output: c.querySelector('.outputs').innerText,
            svgs: c.querySelectorAll('.outputs svg').length,
            players: c.querySelectorAll('.outputs .dg-film').length}))""")
        assert [c["source"] for c in cells] == code_cells(name)
        for cell in cells:  # NumPy has no browser build here: nn.closed_form's cell says so
            expected = "needs" if "nn.closed_form" in cell["source"] else "ok"
            assert cell["status"] == expected, (cell["source"], cell["output"])
        if name.startswith("01"):
            drawn = [c for c in cells if "draw_graph(o" in c["source"]]
            assert len(drawn) == 2 and all(c["svgs"] == 1 for c in drawn)
            assert sum(c["players"] for c in cells) == 2  # the neuron's and the diamond's
            assert "x1.grad = 5.5000   by hand 5.5000" in page.inner_text("#cells")
            stop_an_endless_cell(page)
        else:
            assert "NumPy" in cells[-1]["output"] and "pip install" in cells[-1]["output"]
            assert "100 random graphs passed" in page.inner_text("#cells")
    finally:
        page.close()


def stop_an_endless_cell(page) -> None:
    """A cell edited into an endless loop: Stop starts Python again, and cells run again."""
    first, second = page.locator(".cell.code").nth(0), page.locator(".cell.code").nth(1)
    second.locator("textarea").fill("while True:\n    pass")
    second.locator("button").click()
    page.wait_for_selector("#stop:not([disabled])")
    assert page.evaluate("6 * 7") == 42  # the page answers while the cell runs
    page.click("#stop")
    page.wait_for_function("() => document.querySelectorAll('.cell.code')[1].dataset.status"
                           " === 'error'")
    assert "Stopped" in second.locator(".outputs").inner_text()
    first.locator("textarea").fill("from engine import Value\nprint((Value(2.0) * 3).data)")
    first.locator("button").click()  # at once: the run waits for the new Python
    page.wait_for_function("() => document.querySelector('.cell.code .outputs').innerText"
                           ".trim() === '6.0'", timeout=LOAD_TIMEOUT)
    assert page.inner_text("#status").startswith("ready again")


def test_the_home_page_lists_what_runs_here_and_what_needs_an_install(browser, server):
    page = open_page_plain(browser, server + "index.html")
    try:
        links = page.eval_on_selector_all("#notebooks a", "as => as.map(a => a.href)")
        assert [link.rsplit("=", 1)[1] for link in links] == [
            "01-values-and-graphs.ipynb", "04-testing-gradients.ipynb"]
        local = page.eval_on_selector_all("#notebooks li.local",
                                          "items => items.map(item => item.dataset.file)")
        others = sorted(p.name for p in (ROOT / "demos").glob("*.ipynb")
                        if not p.name.startswith(("01", "04")))
        assert local == others and all("needs" in t for t in
                                       page.locator("#notebooks li.local").all_inner_texts())
        assert 'pip install -e ".[' in page.inner_text("#install")
    finally:
        page.close()


def open_page_plain(browser, url: str):
    page = browser.context.new_page()
    page.goto(url)
    page.wait_for_selector("#notebooks li")
    return page
