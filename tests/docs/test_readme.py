"""Every Python block of README.md runs on its own, as a reader pastes it: each in a fresh
interpreter, in an empty folder (the files it writes land there)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.testing import gradcheck, planted
from engine.testing.programs import Instruction, Program

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```python\n(.*?)^```", README, re.S | re.M)


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


def test_the_readmes_failure_message_is_what_gradcheck_says():
    # the README's example: tanh's rule with a slip (1 - out for 1 - out²) in a drawn program
    claim = re.search(r"A failure names the node to fix: `(.*?)`", README, re.S)[1]
    with planted("tanh", local=lambda x, out: (1.0 - out,)):
        culprit = gradcheck(Program(1, (Instruction("tanh", (0,)),), output=1), 1.0,
                            raise_exception=False).culprit
    assert " ".join(claim.split()) == str(culprit)


def test_the_quick_subset_the_readme_names_leaves_out_the_site_build():
    quick = re.search(r'`\.venv/bin/python -m pytest -m "(not slow)"`', README)
    assert quick and re.search(r"takes 3 to 9\s+minutes", README)
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m",
                           quick[1], "tests/docs"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert "test_readme.py::" in done.stdout, done.stdout + done.stderr
    assert "test_the_site_builds_without_warnings" not in done.stdout  # minutes of sphinx
