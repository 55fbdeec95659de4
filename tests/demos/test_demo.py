"""The main demo, ``demos/moons.py``, run as the README runs it: as a script, in a subprocess.

A short run checks every output file (PNG, SVG, a JSON model that ``MLP.load`` reads back); a
run with the defaults checks the promise of the README: 100 % training accuracy. (How long it
takes is a benchmark figure, not a test: the demo prints its training time.)
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from nn import MLP

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "demos" / "moons.py"
FILES = ("decision-boundary.png", "training-curves.png", "neuron-graph.svg", "network-delta.svg",
         "model.json")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_help_lists_the_options(tmp_path):
    done = run("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for option in ("--out", "--epochs", "--samples", "--noise", "--optimizer", "--lr", "--seed"):
        assert option in done.stdout


def test_a_short_run_writes_every_file(tmp_path):
    out = tmp_path / "out"
    done = run("--epochs", "3", "--samples", "20", "--out", str(out), "--no-progress",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in FILES:
        assert (out / name).stat().st_size > 0, name
        assert str(out / name) in done.stdout  # the summary names every file
    for name in ("decision-boundary.png", "training-curves.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("neuron-graph.svg", "network-delta.svg"):
        svg = ET.parse(out / name).getroot()
        assert svg.tag.endswith("svg")
        assert len(svg.findall(".//{http://www.w3.org/2000/svg}g[@class='node']")) > 3
    neuron_texts = "".join(ET.parse(out / "neuron-graph.svg").getroot().itertext())
    assert "grad" in neuron_texts and "w1" in neuron_texts
    model = MLP.load(out / "model.json")
    assert model.sizes == [2, 16, 16, 1]
    assert len(model.parameters()) == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1


@pytest.mark.slow
def test_defaults_reach_full_training_accuracy(tmp_path):
    done = run("--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(r"training accuracy 100%", done.stdout), done.stdout
    assert re.search(r"trained in [0-9.]+ s", done.stdout), done.stdout  # the time is reported
    assert (tmp_path / "moons-output" / "model.json").is_file()  # the default folder
