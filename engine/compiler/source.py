"""A program's source as text that Jupyter shows highlighted (pygments if installed)."""

from __future__ import annotations

import html


class Source(str):
    """Python source: prints as itself; in Jupyter, highlighted HTML (or escaped, without
    pygments) and a fenced Markdown block."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
        except ImportError:
            return f"<pre>{html.escape(str(self))}</pre>"
        return highlight(str(self), PythonLexer(), HtmlFormatter(noclasses=True, nowrap=False))

    def _repr_markdown_(self) -> str:
        fence = "`" * max(3, _longest_run(str(self), "`") + 1)
        return f"{fence}python\n{self}\n{fence}"

    def __repr__(self) -> str:
        return str(self)


def _longest_run(text: str, c: str) -> int:
    best = run = 0
    for x in text:
        run = run + 1 if x == c else 0
        best = max(best, run)
    return best
