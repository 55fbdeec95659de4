"""Build deltagrad's static site: the playground and notebooks 01 and 04, run by Pyodide.

    python browser/build.py            # -> browser/_build/, serve it with any static server

Everything the pages load at run time is copied into the output folder, from pinned packages:
npm's ``pyodide`` and ``@viz-js/viz`` (and ``marked``, ``katex`` for the notebooks' text),
installed with ``npm ci`` from ``browser/package-lock.json``; deltagrad's own wheel, built here,
with its modules compiled to bytecode by Pyodide in Node (``compile_bytecode.mjs``); and the
pure-Python wheels it needs in the browser, from PyPI with ``pip download`` (hypothesis as its
Pyodide build). Needs Python 3.10+ with pip, and Node.js with npm. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NODE_MODULES = HERE / "node_modules"

PYODIDE_FILES = ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip",
                 "pyodide-lock.json"]
# what each npm package brings into the site: package-relative source -> site-relative target
VENDOR = {
    **{f"pyodide/{name}": f"vendor/pyodide/{name}" for name in PYODIDE_FILES},
    "@viz-js/viz/dist/viz.js": "vendor/viz.js",
    "marked/lib/marked.esm.js": "vendor/marked.esm.js",
    "katex/dist/katex.mjs": "vendor/katex/katex.mjs",
    "katex/dist/katex.min.css": "vendor/katex/katex.min.css",
}
NPM_PACKAGES = ["pyodide", "@viz-js/viz", "marked", "katex"]  # each one's package.json names its
LICENSES = ["marked/LICENSE", "katex/LICENSE"]                  # licence; these ship the text

# The browser's Python: Pyodide's 3.14 on wasm32. Pure-Python wheels (py3-none-any) fit, and so
# does hypothesis's Pyodide build. graphviz-pure is left out: a native program (see pyproject).
PLATFORM = "pyemscripten_2026_0_wasm32"
PYTHON_VERSION = "3.14"
WHEELS = ["graphviz==0.21", "tqdm==4.70.1", "hypothesis==6.170.27", "sortedcontainers==2.4.0"]

IN_THE_BROWSER = ("01", "04")  # the notebooks (by number) that need nothing but the engine
NEEDS = {"02": "NumPy", "03": "matplotlib", "05": "NumPy and matplotlib",
         "06": "PyTorch, scikit-learn and matplotlib",
         "07": "NumPy and scikit-learn"}  # the others: what they import
NEEDS_DEFAULT = "NumPy or other packages with no browser build"


def run(*command: str | Path, cwd: Path = ROOT) -> None:
    """Run a build step, echoing it; a failure stops the build with the step's own message."""
    print("+", " ".join(str(c) for c in command), flush=True)
    subprocess.run([str(c) for c in command], cwd=cwd, check=True)


def npm_packages() -> None:
    """``npm ci``: exactly the versions of package-lock.json, into browser/node_modules."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("build: npm not found (apt-get install npm, or install Node.js)")
    run(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", cwd=HERE)


def copy_vendor(out: Path) -> None:
    """The JavaScript and WebAssembly files the pages import, with their licences."""
    for source, target in VENDOR.items():
        _copy(NODE_MODULES / source, out / target)
    for font in sorted((NODE_MODULES / "katex/dist/fonts").glob("*.woff2")):
        _copy(font, out / "vendor/katex/fonts" / font.name)  # every browser reads woff2
    for name in [*(f"{package}/package.json" for package in NPM_PACKAGES), *LICENSES]:
        _copy(NODE_MODULES / name, out / "vendor/licenses" / name.replace("/", "-"))


def wheels(out: Path) -> list[str]:
    """deltagrad's wheel, built from this checkout, and the pinned wheels it needs in Pyodide."""
    folder = out / "wheels"
    folder.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", tmp, ROOT)
        run(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
            "--platform", PLATFORM, "--python-version", PYTHON_VERSION, "--dest", tmp, *WHEELS)
        for wheel in sorted(Path(tmp).glob("*.whl")):
            shutil.copy2(wheel, folder / wheel.name)
    names = sorted(p.name for p in folder.iterdir())
    if len(names) != len(WHEELS) + 1:
        sys.exit(f"build: expected {len(WHEELS) + 1} wheels, got {names}")
    return names


def bytecode(out: Path, wheel: str) -> str:
    """deltagrad's modules compiled by Pyodide's Python, for the page to import without compiling
    them (about a fifth of a second of the playground's start): their __pycache__ files, zipped."""
    node = shutil.which("node")
    if node is None:
        sys.exit("build: node not found (apt-get install nodejs npm, or install Node.js)")
    name = f"bytecode/{wheel.split('-py3-')[0]}-cp{PYTHON_VERSION.replace('.', '')}.zip"
    (out / name).parent.mkdir(parents=True)
    run(node, HERE / "compile_bytecode.mjs", out / "wheels" / wheel, out / name)
    return name


def notebooks(out: Path) -> list[dict[str, str]]:
    """Copy the notebooks that run in the browser; list every notebook with what it needs."""
    listed = []
    for path in sorted((ROOT / "demos").glob("*.ipynb")):
        number = path.name[:2]
        needs = "" if number in IN_THE_BROWSER else NEEDS.get(number, NEEDS_DEFAULT)
        if not needs:
            _copy(path, out / "notebooks" / path.name)
        title = json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"]
        title = "".join(title).splitlines()[0].lstrip("# ").strip()
        listed.append({"file": path.name, "title": title, "needs": needs})
    return listed


def build(out: Path) -> Path:
    """The whole site in ``out`` (emptied first)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    npm_packages()
    copy_vendor(out)
    for page in sorted((HERE / "pages").iterdir()):
        _copy(page, out / page.name)
    examples = {p.stem: p.read_text(encoding="utf-8")
                for p in sorted((HERE / "examples").glob("*.py"))}
    names = wheels(out)
    own = next(name for name in names if name.startswith("deltagrad-"))
    manifest = {"wheels": names, "bytecode": bytecode(out, own), "notebooks": notebooks(out),
                "examples": examples}
    (out / "site.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    (out / ".nojekyll").touch()  # GitHub Pages: serve the folder as it is
    print(f"built {out} ({_size(out) / 1e6:.1f} MB): serve it with "
          f"python -m http.server -d {_shown(out)}")
    return out


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "_build",
                        help="the folder to build into (default: browser/_build)")
    build(parser.parse_args().out.resolve())


if __name__ == "__main__":
    main()
