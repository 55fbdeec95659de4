"""Sphinx configuration of deltagrad's documentation site.

Build it with ``python -m sphinx -W -b html docs docs/_build/html`` (``-W``: a warning fails the
build; ``tests/docs/test_docs.py`` runs exactly this into a temporary folder). Pages are MyST
Markdown; notebooks (``demos/*.ipynb``, linked from ``docs/notebooks/``) are executed by myst-nb
on every build, so the site shows fresh outputs while the repository keeps them cleared.

Maths renders offline: MathJax comes from the ``sphinx-mathjax-offline`` wheel and is copied into
the built site, so no page loads anything from a CDN.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # autodoc imports engine and nn from this checkout

project = "deltagrad"
author = "deltagrad developers"
copyright = "deltagrad developers, MIT licence"
release = version = "0.2.0"

extensions = [
    "myst_nb",  # MyST Markdown pages and executed notebooks (includes myst_parser)
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}

# -- MyST and notebooks ---------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = os.environ.get("DELTAGRAD_DOCS_EXECUTE", "force")
nb_execution_timeout = 180  # seconds per notebook
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True
nb_kernel_rgx_aliases = {".*": "python3"}  # whatever kernel a notebook was saved with
nb_merge_streams = True

# -- autodoc --------------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
python_maximum_signature_line_length = 90  # long signatures: one parameter per line
autodoc_default_options = {"members": True, "show-inheritance": False}

# -- HTML -----------------------------------------------------------------------------------------
html_theme = "furo"
html_title = "deltagrad"
html_static_path = ["_static"]
html_js_files = ["full-size.js"]  # a click on a picture opens it at full size
html_css_files = ["full-size.css"]
html_show_sourcelink = False


# -- offline MathJax ------------------------------------------------------------------------------
def _mathjax_dir() -> Path:
    """MathJax 3 as shipped in the sphinx-mathjax-offline wheel (its package has a dash in its
    name, so it is found by path, not imported)."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or spec.origin is None:
        raise RuntimeError("offline maths needs the sphinx-mathjax-offline package: "
                           'pip install -e ".[docs]"')
    return Path(spec.origin).parent / "static" / "mathjax"


mathjax_path = "mathjax/tex-svg.js"  # one file with its fonts inside (SVG output)
mathjax3_config = {"tex": {"tags": "none"}, "svg": {"fontCache": "global"}}


def _copy_mathjax(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copytree(_mathjax_dir(), Path(app.outdir) / "_static" / "mathjax",
                        dirs_exist_ok=True)


def _regenerate_readme_figure(app, exception) -> None:
    """Run docs/make_readme_figure.py into the built site: proves the committed figure can be
    made again from the code, without touching the committed copy."""
    if exception is not None or app.builder.format != "html":
        return
    script = DOCS / "make_readme_figure.py"
    if script.exists():
        out = Path(app.outdir) / "_static" / "readme-figure.svg"
        subprocess.run([sys.executable, str(script), str(out)], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)


_LITERAL = re.compile(r"(``.+?``)")


def _plain_text_pipes(app, what, name, obj, options, lines) -> None:
    """Docstrings here are plain text with ``literals``: ``|x|`` means an absolute value, not an
    RST substitution, so escape pipes outside literals."""
    for i, line in enumerate(lines):
        if "|" in line:
            parts = _LITERAL.split(line)
            lines[i] = "".join(p if p.startswith("``") else p.replace("|", "\\|") for p in parts)


def setup(app):
    _mathjax_dir()  # fail early, with the install hint, when MathJax is missing
    app.connect("autodoc-process-docstring", _plain_text_pipes)
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _regenerate_readme_figure)
