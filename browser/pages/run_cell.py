"""Run a cell of Python in the page (Pyodide) and collect what it shows, the way Jupyter does.

``run(code)`` executes the code in a namespace kept between cells and returns a JSON list of
outputs, in order: printed text, the rich picture of ``display(x)`` calls and of a last-line
expression (HTML, SVG, Markdown or plain text, from the object's ``_repr_*_`` methods), and an
error's traceback trimmed to the cell. A cell that imports a package with no browser build here
(NumPy, ...) gets a note that says so instead of a traceback.
"""

from __future__ import annotations

import ast
import json
import linecache
import sys
import traceback
from itertools import count
from typing import Any

LOCAL_ONLY = {"numpy": "NumPy", "matplotlib": "matplotlib", "torch": "PyTorch",
              "sklearn": "scikit-learn", "scipy": "SciPy", "pandas": "pandas"}
RICH = [("text/html", "_repr_html_"), ("image/svg+xml", "_repr_svg_"),
        ("text/markdown", "_repr_markdown_")]  # the first one an object has is shown

_cells = count(1)
outputs: list[dict[str, str]] = []
namespace: dict[str, Any] = {}


class Stream:
    """``sys.stdout`` / ``sys.stderr`` for a cell: text joins the outputs in order."""

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        if outputs and outputs[-1]["type"] == self.name:
            outputs[-1]["text"] += text
        elif text:
            outputs.append({"type": self.name, "text": text})
        return len(text)

    def flush(self) -> None:
        pass


def display(*values: Any) -> None:
    """Show each value as Jupyter would: its richest representation."""
    for value in values:
        bundle = value._repr_mimebundle_() if hasattr(value, "_repr_mimebundle_") else {}
        for mime, method in RICH:
            if mime not in bundle and hasattr(value, method):
                shown = getattr(value, method)()
                if shown is not None:
                    bundle[mime] = shown
        mime = next((m for m, _ in RICH if m in bundle), "text/plain")
        outputs.append({"type": "display", "mime": mime,
                        "data": bundle.get(mime, repr(value))})


def reset() -> None:
    """A fresh namespace (the playground runs each program on its own)."""
    namespace.clear()
    namespace.update({"__name__": "__main__", "display": display})


def run(code: str) -> str:
    """Run one cell; its outputs as JSON."""
    outputs.clear()
    filename = f"<cell {next(_cells)}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = Stream("stdout"), Stream("stderr")
    try:
        tree = ast.parse(code, filename)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, filename, "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), filename, "eval"), namespace)
            if value is not None:
                display(value)
    except ModuleNotFoundError as error:
        package = LOCAL_ONLY.get((error.name or "").partition(".")[0])
        if package is None:
            raise_into_outputs(error)
        else:
            outputs.append({"type": "needs", "package": package, "text": str(error)})
    except BaseException as error:  # a cell's error is shown, never raised into the page
        raise_into_outputs(error)
    finally:
        sys.stdout, sys.stderr = saved
    return json.dumps(outputs)


def raise_into_outputs(error: BaseException) -> None:
    """The traceback from the cell down, without this runner's own frame."""
    frames = None if isinstance(error, SyntaxError) else error.__traceback__.tb_next
    lines = traceback.format_exception(type(error), error, frames)
    outputs.append({"type": "error", "name": type(error).__name__, "text": "".join(lines)})


reset()
