"""Turning DOT source into SVG or PNG on any machine: the renderer chain.

A renderer is any program that reads DOT on stdin and writes the picture on stdout when given
``-Tsvg`` or ``-Tpng``. The first one found wins:

1. an explicit override: the ``renderer`` argument, else the ``DELTAGRAD_DOT`` environment
   variable (a path or a command name);
2. Graphviz's ``dot`` on PATH;
3. the ``graphviz-pure`` executable (a pip dependency of deltagrad), on PATH or in this Python's
   scripts directory: notebooks and ``.venv/bin/python`` often run without an activated venv.

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
INSTALL_HINT = ("no Graphviz renderer found: pip install graphviz-pure (or apt-get install "
                f"graphviz), or set {ENV_VAR} to a dot executable")
FORMATS = ("svg", "png")


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
