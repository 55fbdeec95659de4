"""The documentation site builds with warnings as errors, executes its pages and notebooks, and
renders maths without the network.

The build runs ``python -m sphinx -W`` in a subprocess into a temporary folder, so the source
tree is never written to. A broken cross-reference, a docstring autodoc cannot parse, a failing
cell in an executed page or notebook, or an ``assert`` on the lecture-to-code page fails it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
BUILD_SECONDS = 600  # the whole site, notebooks included; about 20 s on a 2-core laptop


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The built site; building it takes minutes, so the tests that read it are marked slow."""
    out = tmp_path_factory.mktemp("docs")
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
        capture_output=True, text=True, timeout=BUILD_SECONDS, cwd=ROOT,
    )
    assert done.returncode == 0, f"sphinx-build -W failed:\n{done.stderr[-6000:]}"
    print(f"docs built in {time.monotonic() - start:.1f} s")
    return out / "html"


def page(site: Path, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_site_builds_without_warnings(site):
    for name in ("index.html", "getting-started.html", "concepts.html", "lecture-to-code.html",
                 "conventions.html", "api.html", "notebooks.html"):
        assert (site / name).is_file(), name


@pytest.mark.slow
def test_maths_is_rendered_by_a_local_mathjax(site):
    html = page(site, "lecture-to-code.html")
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert any(s.endswith("_static/mathjax/tex-svg.js") for s in scripts), scripts
    assert not [s for s in scripts if s.startswith(("http:", "https:", "//"))], scripts
    assert (site / "_static" / "mathjax" / "tex-svg.js").stat().st_size > 1_000_000
    assert r"\delta_\ell = \big(W_{\ell+1}^\top \delta_{\ell+1}\big)" in html


@pytest.mark.slow
def test_executed_pages_show_the_engine_output(site):
    concepts = page(site, "concepts.html")
    assert "d(a*a)/da = 6.0" in concepts  # printed by a cell run at build time
    lecture = page(site, "lecture-to-code.html")
    assert "C before" in lecture and "after one step" in lecture


@pytest.mark.slow
def test_the_trace_of_a_gradient_reads_the_second_derivative(site):
    """The visualization page once said create_graph was "not there yet"; it runs it: the
    adjoint trace of x.grad for y = x ** 3 at x = 3 ends with d2y/dx2 = 6x = 18."""
    page_text = (DOCS / "visualization.md").read_text(encoding="utf-8")
    assert "not there" not in page_text and "create_graph=True" in page_text
    html = page(site, "visualization.html")
    assert f"{6 * 3.0} {6 * 3.0}" in html


@pytest.mark.slow
def test_api_reference_documents_engine_and_nn(site):
    api = page(site, "api.html")
    for name in ("engine.Value.backward", "engine.no_grad", "engine.testing.numeric_grad",
                 "engine.testing.gradcheck", "engine.derivatives.register", "engine.draw_graph",
                 "engine.film_strip", "engine.explain", "engine.trace_table",
                 "engine.testing.strategies.graphs", "nn.MLP",
                 "nn.draw_network", "nn.closed_form.backprop", "nn.optim.Adam", "nn.train.fit"):
        assert f'id="{name}"' in api, name


@pytest.mark.slow
def test_pictures_open_at_full_size_with_local_files_only(site):
    html = page(site, "visualization.html")
    assert re.search(r'<script src="_static/full-size\.js[^"]*"', html)
    assert re.search(r'href="_static/full-size\.css[^"]*"', html)
    script = page(site, "_static/full-size.js")
    assert "article img" in script and "http" not in script
    assert html.count("<img") >= 4  # the pictures the script links


@pytest.mark.slow
def test_the_readme_figure_is_made_again_by_the_build(site):
    """docs/make_readme_figure.py ran into the site: the committed picture can be regenerated."""
    made = page(site, "_static/readme-figure.svg")
    committed = (DOCS / "_static" / "readme-figure.svg").read_text(encoding="utf-8")
    for text in ("delta", "neuron 4", "layer 2 (tanh)"):
        assert text in made and text in committed


@pytest.mark.slow
def test_the_lecture_page_quotes_the_code_it_explains(site):
    lecture = page(site, "lecture-to-code.html")
    assert "affine_local" in lecture  # included from engine/derivatives.py at build time


def test_the_concepts_page_includes_the_backward_pass_from_the_source():
    """The lecture's loop is quoted from the code at build time (literalinclude), never copied:
    the names it includes must exist, and the loop must be there."""
    import inspect

    from engine import chain_rule, value

    page_text = (DOCS / "concepts.md").read_text(encoding="utf-8")
    assert ":pyobject: Value.backward" in page_text and ":pyobject: chain_rule" in page_text
    assert "operand.grad += local * g" in inspect.getsource(value.Value.backward)
    assert "grads[operand] += local * g" in inspect.getsource(chain_rule.chain_rule)


def test_every_test_the_docs_name_exists():
    """The pages name the tests that check each claim; a renamed test must not leave a dead name."""
    named = set()
    for md in DOCS.glob("*.md"):
        named |= set(re.findall(r"tests/([\w/]+\.py)::(\w+)", md.read_text(encoding="utf-8")))
    assert len(named) >= 5
    for file, name in sorted(named):
        source = (ROOT / "tests" / file).read_text(encoding="utf-8")
        assert re.search(rf"^def {name}\(", source, re.M), f"tests/{file}::{name} does not exist"


def test_every_function_of_nn_train_is_in_the_guide():
    """A function no guide mentions is one nobody finds (train.predict was such a one)."""
    from nn import train

    guide = (DOCS / "nn.md").read_text(encoding="utf-8")
    missing = [name for name in train.__all__ if f"train.{name}" not in guide]
    assert not missing, f"docs/nn.md never mentions {missing}"


def test_every_test_that_builds_the_site_is_marked_slow():
    """The build takes minutes: one unmarked test would put it back into -m "not slow"."""
    import inspect

    tests = {name: f for name, f in globals().items() if name.startswith("test_")}
    unmarked = [name for name, f in tests.items() if "site" in inspect.signature(f).parameters
                and not any(mark.name == "slow" for mark in getattr(f, "pytestmark", []))]
    assert not unmarked
