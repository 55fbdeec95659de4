"""Every teaching notebook in demos/ runs from top to bottom in a fresh ``python3`` kernel, within
its time limit, and is committed with its outputs cleared.

Each notebook runs with nbclient in a temporary working folder, so files it writes (a saved
model, pictures) never land in the repository. A cell that raises, or an ``assert`` in a cell,
fails the test and names the notebook and the cell.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "demos").glob("*.ipynb"))
LIMIT_SECONDS = 120  # per notebook, on a 2-core machine; they take a few seconds each


def test_there_are_teaching_notebooks():
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} cell {i} has outputs: clear them before committing")
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_on_the_docs_site(path):
    link = ROOT / "docs" / "notebooks" / path.name
    assert link.is_symlink() and link.resolve() == path.resolve(), (
        f"link it: ln -s ../../demos/{path.name} docs/notebooks/{path.name}")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=LIMIT_SECONDS, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    start = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as err:
        pytest.fail(f"{path.name}: {err}", pytrace=False)
    seconds = time.monotonic() - start
    print(f"{path.name}: {seconds:.1f} s")
    assert seconds < LIMIT_SECONDS
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
