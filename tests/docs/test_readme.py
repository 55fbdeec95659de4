"""Every Python block of README.md runs on its own, as a reader pastes it: each in a fresh
interpreter, in an empty folder (the files it writes land there)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"),
                    re.S | re.M)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block {i + 1}" for i in range(len(BLOCKS))])
def test_a_readme_block_runs_on_its_own(block, tmp_path):
    done = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, f"README block fails on its own:\n{block}\n{done.stderr}"
    for line in block.splitlines():  # a print whose comment gives its output: check it
        claim = re.fullmatch(r"print\(.*\)\s+# ([-0-9.]+)", line.strip())
        if claim:
            assert claim[1] in done.stdout.split(), (line, done.stdout)
