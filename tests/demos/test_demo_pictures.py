"""Every picture demos/moons.py writes shows the right numbers.

The demo runs in-process on a small problem; the numbers are read back from the SVG text (the
two graphs) or from the figures the PNGs are drawn from, and checked against each other and
against NumPy, which recomputes the network from its weights without the engine.
"""

from __future__ import annotations

import importlib.util
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from nn import MLP, data

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
ROUNDING = 5e-5 + 1e-12  # the drawings print 4 decimals
SEED, SAMPLES, EPOCHS = 3, 30, 8


def load_demo():
    spec = importlib.util.spec_from_file_location("moons_demo", ROOT / "demos" / "moons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    moons = load_demo()
    out = tmp_path_factory.mktemp("moons")
    args = moons.parse_args(["--out", str(out), "--samples", str(SAMPLES), "--epochs",
                             str(EPOCHS), "--seed", str(SEED), "--no-progress"])
    return moons, moons.run(args)


# -- NumPy: the network from its weights ----------------------------------------------------------


def weights(model: MLP) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.array([[w.data for w in n.w] for n in layer.neurons]),
             np.array([n.b.data for n in layer.neurons])) for layer in model.layers]


def forward(model: MLP, X) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """z and a of every layer for inputs X (one column per sample): tanh hidden, linear out."""
    a = np.asarray(X, dtype=float).T
    zs, activations = [], []
    layers = weights(model)
    for i, (W, b) in enumerate(layers):
        z = W @ a + b[:, None]
        a = np.tanh(z) if i < len(layers) - 1 else z
        zs.append(z)
        activations.append(a)
    return zs, activations


def bce_with_logits(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z) - y * z


def deltas(model: MLP, x, y) -> list[np.ndarray]:
    """dC/dz per layer for one sample: sigmoid(z_L) - y at the output, then the recurrence."""
    zs, activations = forward(model, [x])
    layers = weights(model)
    delta = 1 / (1 + np.exp(-zs[-1])) - y
    out = [delta]
    for i in range(len(layers) - 2, -1, -1):
        delta = (layers[i + 1][0].T @ delta) * (1 - activations[i] ** 2)
        out.insert(0, delta)
    return out


# -- reading the SVGs ------------------------------------------------------------------------------


def texts_of(path: Path) -> list[str]:
    return [t.text or "" for t in ET.parse(path).getroot().iter(f"{SVG}text")]


def boxes(path: Path) -> dict[str, tuple[float, float]]:
    """``label -> (data, grad)`` of every value box of a graph drawing."""
    found = {}
    for node in ET.parse(path).getroot().iter(f"{SVG}g"):
        if node.get("class") != "node":
            continue
        texts = [(t.text or "").strip() for t in node.iter(f"{SVG}text")]
        if len(texts) == 3 and texts[1].startswith("data ") and texts[2].startswith("grad "):
            assert texts[0], f"a box without a label in {path.name}: {texts}"
            found[texts[0]] = (float(texts[1][5:]), float(texts[2][5:]))
    return found


def network_numbers_drawn(path: Path) -> dict[tuple[int, int, str], float]:
    """``(layer, neuron, name) -> number`` for b, z, a, delta of every neuron drawn, plus
    ``(0, k, "x")`` for the inputs and ``(-1, 0, "C")``, ``(-1, 0, "y")`` for the cost."""
    numbers, layer, neuron, previous = {}, None, None, ""
    for text in (t.strip() for t in texts_of(path)):
        if text.startswith("layer "):
            layer = int(text.split()[1])
        elif text.startswith("neuron "):
            neuron = int(text.split()[1])
        elif text.split(" ")[0] in ("b", "z", "a", "delta") and layer is not None:
            numbers[(layer, neuron, text.split(" ")[0])] = float(text.split(" ")[1])
        elif previous.startswith("x_"):
            numbers[(0, int(previous[2:]), "x")] = float(text)
        elif previous.startswith("C = "):
            numbers[(-1, 0, "C")] = float(text)
        elif text.startswith("y "):
            numbers[(-1, 0, "y")] = float(text[2:])
        previous = text
    return numbers


# -- the pictures ---------------------------------------------------------------------------------


def test_every_picture_the_demo_writes_is_checked_here(demo):
    _, result = demo
    pictures = {p.name for p in result.files if p.suffix in (".png", ".svg")}
    assert pictures == {"decision-boundary.png", "training-curves.png", "neuron-graph.svg",
                        "network-delta.svg"}


def test_the_neuron_graph_shows_one_backward_pass_of_the_trained_neuron(demo):
    _, result = demo
    drawn = boxes(next(p for p in result.files if p.name == "neuron-graph.svg"))
    assert set(drawn) == {"w1", "w2", "b", "x1", "x2", "z", "a"}
    X, _ = data.moons(SAMPLES, noise=0.1, seed=SEED)
    trained = MLP.load(next(p for p in result.files if p.name == "model.json"))
    neuron = trained.layers[0].neurons[0]
    w, b, x = [v.data for v in neuron.w], neuron.b.data, X[0]
    z = w[0] * x[0] + w[1] * x[1] + b  # by hand
    a = math.tanh(z)
    dz = 1 - a * a
    expected = {"w1": (w[0], x[0] * dz), "w2": (w[1], x[1] * dz), "b": (b, dz),
                "x1": (x[0], w[0] * dz), "x2": (x[1], w[1] * dz), "z": (z, dz), "a": (a, 1.0)}
    for label, (data_, grad) in expected.items():
        assert drawn[label] == pytest.approx((data_, grad), abs=ROUNDING), label
    # and against each other, with the printed numbers: z.grad is b.grad, w_i.grad = x_i z.grad
    assert drawn["z"][1] == drawn["b"][1]
    for i in (1, 2):
        assert drawn[f"w{i}"][1] == pytest.approx(drawn[f"x{i}"][0] * drawn["z"][1],
                                                  abs=3 * ROUNDING)
        assert drawn[f"x{i}"][1] == pytest.approx(drawn[f"w{i}"][0] * drawn["z"][1],
                                                  abs=3 * ROUNDING)
    assert drawn["z"][1] == pytest.approx(1 - drawn["a"][0] ** 2, abs=3 * ROUNDING)


def test_the_neuron_graph_title_reads_as_a_sentence(demo):
    _, result = demo
    title = texts_of(next(p for p in result.files if p.name == "neuron-graph.svg"))[0]
    assert "grad = da/dv" in title and "d (each" not in title


def test_the_network_picture_shows_z_a_and_delta_of_the_initial_network(demo):
    _, result = demo
    drawn = network_numbers_drawn(next(p for p in result.files if p.name == "network-delta.svg"))
    initial = MLP(2, [16, 16, 1], seed=SEED)  # the demo draws the network before training
    X, y = data.moons(SAMPLES, noise=0.1, seed=SEED)
    zs, activations = forward(initial, [X[0]])
    ds = deltas(initial, X[0], y[0])
    layers = weights(initial)
    expected = {(0, k + 1, "x"): X[0][k] for k in range(2)}
    for layer in range(3):
        for j in range(len(layers[layer][1])):
            expected[(layer + 1, j + 1, "b")] = layers[layer][1][j]
            expected[(layer + 1, j + 1, "z")] = zs[layer][j, 0]
            expected[(layer + 1, j + 1, "a")] = activations[layer][j, 0]
            expected[(layer + 1, j + 1, "delta")] = ds[layer][j, 0]
    expected[(-1, 0, "C")] = bce_with_logits(zs[-1], y[0])[0, 0]
    expected[(-1, 0, "y")] = y[0]
    assert len(drawn) >= 20 and set(drawn) <= set(expected)
    for key, number in drawn.items():
        assert number == pytest.approx(expected[key], abs=ROUNDING), key
    for (layer, j, name), number in drawn.items():  # and against each other
        if name == "a" and layer in (1, 2):
            assert number == pytest.approx(math.tanh(drawn[(layer, j, "z")]), abs=3 * ROUNDING)


def test_the_decision_boundary_is_the_models_and_the_legend_leaves_it_free(demo):
    moons, result = demo
    X, y = result.X, result.y
    gx, gy, score = moons.decision_scores(result.model, X, steps=12)
    grid = [(u, v) for v in gy for u in gx]
    numpy_score = forward(result.model, grid)[0][-1][0].reshape(len(gy), len(gx))
    assert np.allclose(score, numpy_score, rtol=0, atol=1e-12)
    predicted = forward(result.model, X)[0][-1][0] > 0  # the boundary is the logit's 0
    assert np.mean(predicted == np.array(y, dtype=bool)) == result.accuracy

    fig = moons.decision_figure(result.model, X, y, steps=12)
    try:
        ax = fig.axes[0]
        for collection, label in zip(ax.collections[-2:], (0, 1), strict=True):
            points = [p for p, c in zip(X, y, strict=True) if c == label]
            assert np.allclose(collection.get_offsets(), points)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        legend, axes = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
        assert not legend.overlaps(axes), "the legend covers part of the plot"
        figure = fig.bbox
        assert figure.x0 <= legend.x0 and legend.x1 <= figure.x1  # and is not cut off
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_the_training_curves_are_the_history_and_start_at_the_initial_network(demo):
    moons, result = demo
    history = result.history
    assert len(history.loss) == EPOCHS
    fig = moons.curves_figure(history)
    try:
        loss_line, = fig.axes[0].get_lines()
        accuracy_line, = fig.axes[1].get_lines()
        assert list(loss_line.get_ydata()) == history.loss
        assert list(accuracy_line.get_ydata()) == [100 * a for a in history.accuracy]
        assert list(loss_line.get_xdata()) == list(range(1, EPOCHS + 1))
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    initial = MLP(2, [16, 16, 1], seed=SEED)  # epoch 1's numbers: before its (full-batch) step
    X, y = data.moons(SAMPLES, noise=0.1, seed=SEED)
    logits = forward(initial, X)[0][-1][0]
    assert history.loss[0] == pytest.approx(np.mean(bce_with_logits(logits, np.array(y))),
                                            rel=1e-12)
    assert history.accuracy[0] == np.mean((logits > 0) == np.array(y, dtype=bool))
