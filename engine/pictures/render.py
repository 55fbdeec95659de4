"""Turning DOT source into SVG or PNG on any machine: the renderer chain.

A renderer is any program that reads DOT on stdin and writes the picture on stdout when given
``-Tsvg`` or ``-Tpng``. The first one found wins:

1. an explicit override: the ``renderer`` argument, else the ``DELTAGRAD_DOT`` environment
   variable (a path or a command name);
2. Graphviz's ``dot`` on PATH;
3. the ``graphviz-pure`` executable (a pip dependency of deltagrad), on PATH or in this Python's
   scripts directory: notebooks and ``.venv/bin/python`` often run without an activated venv.

In the browser (Pyodide, ``sys.platform == "emscripten"``) no program can run, so SVG comes from
viz.js (Graphviz compiled to WebAssembly) that the page has loaded as ``globalThis.deltagradViz``
(``await Viz.instance()``, as deltagrad's static site does); PNG is not available there.

Standard library only; the renderer's stderr is captured (never printed into a notebook).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ENV_VAR = "DELTAGRAD_DOT"
FORMATS = ("svg", "png")
IN_BROWSER = sys.platform == "emscripten"  # Pyodide: no processes, Graphviz comes from viz.js
BROWSER_VIZ = "deltagradViz"  # the page's viz.js instance: globalThis.deltagradViz
BROWSER_HINT = (f"no viz.js in this page: load @viz-js/viz and set globalThis.{BROWSER_VIZ} = "
                "await Viz.instance()")
INSTALL_HINT = BROWSER_HINT if IN_BROWSER else (
    "no Graphviz renderer found: pip install graphviz-pure (or apt-get install graphviz), or set "
    f"{ENV_VAR} to a dot executable")


class RendererNotFound(RuntimeError):
    """No program to turn DOT into a picture; the message says how to install one."""


def find_renderer(renderer: str | os.PathLike | None = None) -> str | None:
    """The path of the first renderer of the chain, or ``None`` if there is none.

    An explicit ``renderer`` (or ``DELTAGRAD_DOT``) that cannot be found raises
    :class:`RendererNotFound` naming it, rather than silently using another one.
    """
    override = renderer if renderer is not None else os.environ.get(ENV_VAR) or None
    if override is not None:
        found = _executable(os.fspath(override))
        if found is None:
            source = "renderer argument" if renderer is not None else f"{ENV_VAR}"
            raise RendererNotFound(f"the {source} {os.fspath(override)!r} is not an executable")
        return found
    for name in ("dot", "graphviz-pure"):
        found = _executable(name)
        if found is not None:
            return found
    return None


def _executable(name: str) -> str | None:
    """``name`` on PATH, or as a path, or in this interpreter's scripts directories."""
    found = shutil.which(name)
    if found is not None:
        return found
    for folder in _script_dirs():
        found = shutil.which(name, path=str(folder))
        if found is not None:
            return found
    return None


def _script_dirs() -> list[Path]:
    """Where pip puts console scripts for this interpreter (venv or user install)."""
    dirs = [Path(sysconfig.get_path("scripts")), Path(sys.executable).parent]
    return list(dict.fromkeys(dirs))


def render(source: str, fmt: str, renderer: str | os.PathLike | None = None,
           timeout: float = 60.0) -> bytes:
    """The picture of the DOT ``source`` in format ``fmt`` (``"svg"`` or ``"png"``)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if IN_BROWSER:
        return render_in_browser(source, fmt)
    exe = find_renderer(renderer)
    if exe is None:
        raise RendererNotFound(INSTALL_HINT)
    done = subprocess.run([exe, f"-T{fmt}"], input=source.encode("utf-8"),
                          capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip() or "no output"
        raise RuntimeError(f"{Path(exe).name} -T{fmt} failed (exit {done.returncode}): "
                           f"{message[:500]}")
    return done.stdout


def render_in_browser(source: str, fmt: str) -> bytes:
    """SVG through the page's viz.js: in Pyodide, Graphviz cannot run as a program."""
    if fmt != "svg":
        raise RendererNotFound(f"no {fmt.upper()} in the browser: deltagrad draws SVG there "
                               "(.svg(), or the drawing shown inline); for PNG, install "
                               "deltagrad locally")
    import js  # Pyodide's view of the page's JavaScript globals

    viz = getattr(js, BROWSER_VIZ, None)
    if viz is None:
        raise RendererNotFound(BROWSER_HINT)
    try:
        svg = viz.renderString(source, js.JSON.parse('{"format": "svg"}'))
    except Exception as error:  # viz.js's JavaScript error (pyodide.ffi.JsException)
        raise RuntimeError(f"viz.js could not draw the graph: {error}") from None
    return svg.encode("utf-8")
