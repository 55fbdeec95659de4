"""Make the README's picture: a small MLP after one backward pass, each neuron with its delta.

    python docs/make_readme_figure.py                    # writes docs/_static/readme-figure.svg
    python docs/make_readme_figure.py OTHER/PATH.svg

The committed copy is this script's output; the docs build runs the script again into the built
site (``docs/conf.py``), so a change of the drawing code that breaks it fails the build.
"""

from __future__ import annotations

import sys
from pathlib import Path

from nn import MLP, draw_network

DEFAULT = Path(__file__).resolve().parent / "_static" / "readme-figure.svg"


def figure():
    """MLP(2, [4, 4, 1]) on one input with its target: z, a and delta of every neuron."""
    mlp = MLP(2, [4, 4, 1], seed=1)
    return draw_network(mlp, [0.5, -1.0], [-1.0])


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT
    path.parent.mkdir(parents=True, exist_ok=True)
    figure().save(path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
