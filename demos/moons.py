"""Train a 2-16-16-1 MLP on the two-moons data set and write what it learned to a folder.

    python demos/moons.py                 # defaults: 100 points, Adam, 100 epochs, ./moons-output
    python demos/moons.py --help

Writes, in the output folder:

- ``decision-boundary.png``: the two classes and the region the model assigns to each;
- ``training-curves.png``: the loss and the training accuracy per epoch;
- ``neuron-graph.svg``: the computation graph of the first hidden neuron on the first input,
  after a backward pass (every box shows data and grad);
- ``network-delta.svg``: the whole network, as initialised, on that input after one backward
  pass of the loss, each neuron annotated with its z, a and delta (after training the deltas
  are all close to 0);
- ``model.json``: the trained weights, which ``nn.MLP.load`` reads back.

Everything is the engine's scalar arithmetic; matplotlib and tqdm come with the ``demo`` extra
(``pip install -e ".[demo]"``).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path
from typing import NamedTuple

from engine import Value, draw_graph, no_grad
from nn import MLP, data, draw_network, losses, optim, train

LOSS = losses.bce_with_logits  # one output, a logit: class 1 when it is positive


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train MLP(2, [16, 16, 1]) on two moons and save plots, graphs and the model.")
    parser.add_argument("--out", type=Path, default=Path("moons-output"),
                        help="folder for the pictures and the model (default: %(default)s)")
    parser.add_argument("--samples", type=int, default=100, help="points (default: %(default)s)")
    parser.add_argument("--noise", type=float, default=0.1,
                        help="standard deviation of the noise added to the points "
                             "(default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=100,
                        help="passes over the data (default: %(default)s)")
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam",
                        help="default: %(default)s")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default: 0.05 for adam, 0.5 for sgd)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the data, the initial weights and the shuffling "
                             "(default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


class Run(NamedTuple):
    """What one run of the demo made: the data, the model before and after training, the
    history, the training accuracy and time, and the files written."""

    X: list
    y: list
    initial: MLP
    model: MLP
    history: train.History
    accuracy: float
    seconds: float
    files: list[Path]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"two moons: {args.samples} points, noise {args.noise}; {args.optimizer} "
          f"lr={learning_rate(args)}; {args.epochs} epochs")
    result = run(args)
    first_perfect = next((i + 1 for i, a in enumerate(result.history.accuracy) if a == 1.0),
                         None)
    print(f"{result.model}; trained in {result.seconds:.1f} s: final loss "
          f"{result.history.loss[-1]:.4g}, training accuracy {result.accuracy:.0%}"
          + (f" (first reached 100% in epoch {first_perfect})" if first_perfect else ""))
    print("wrote:")
    for path in result.files:
        print(f"  {path}")
    return 0


def run(args: argparse.Namespace) -> Run:
    """Train on two moons and write the pictures and the model into ``args.out``."""
    import matplotlib

    matplotlib.use("Agg")  # files only: works without a display

    X, y = data.moons(args.samples, noise=args.noise, seed=args.seed)
    model = MLP(2, [16, 16, 1], seed=args.seed)
    loss = LOSS
    lr = learning_rate(args)
    optimizer = (optim.Adam(model.parameters(), lr=lr) if args.optimizer == "adam"
                 else optim.SGD(model.parameters(), lr=lr))
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    initial = copy.deepcopy(model)
    delta_picture = draw_delta(model, X[0], y[0], loss, out / "network-delta.svg")

    start = time.perf_counter()
    history = train.fit(model, X, y, loss=loss, optimizer=optimizer, epochs=args.epochs,
                        seed=args.seed, progress=not args.no_progress)
    seconds = time.perf_counter() - start
    accuracy = train.accuracy(model, X, y, loss)

    files = [
        save(decision_figure(model, X, y), out / "decision-boundary.png"),
        save(curves_figure(history), out / "training-curves.png"),
        draw_neuron(model, X[0], out / "neuron-graph.svg"),
        delta_picture,
    ]
    model.save(out / "model.json")
    files.append(out / "model.json")
    reloaded = MLP.load(out / "model.json")
    assert train.accuracy(reloaded, X, y, loss) == accuracy  # the file holds the trained model
    return Run(X, y, initial, model, history, accuracy, seconds, files)


def learning_rate(args: argparse.Namespace) -> float:
    return args.lr if args.lr is not None else (0.05 if args.optimizer == "adam" else 0.5)


def save(fig, path: Path) -> Path:
    """Write a matplotlib figure as PNG and close it."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def decision_scores(model: MLP, X, steps: int = 75) -> tuple[list[float], list[float], list]:
    """The model's output (a logit) on a ``steps`` x ``steps`` grid around the points:
    ``(gx, gy, score)`` with ``score[j][i]`` at ``(gx[i], gy[j])``."""
    xs, ys = [p[0] for p in X], [p[1] for p in X]
    x0, x1 = min(xs) - 0.5, max(xs) + 0.5
    y0, y1 = min(ys) - 0.5, max(ys) + 0.5
    gx = [x0 + (x1 - x0) * i / (steps - 1) for i in range(steps)]
    gy = [y0 + (y1 - y0) * j / (steps - 1) for j in range(steps)]
    with no_grad():  # inference: no graph
        score = [[model([u, v])[0].data for u in gx] for v in gy]
    return gx, gy, score


def decision_figure(model: MLP, X, y, steps: int = 75):
    """The plane coloured by the model's predicted class, the training points on top, the
    legend outside the axes (where it cannot cover the boundary)."""
    import matplotlib.pyplot as plt

    gx, gy, score = decision_scores(model, X, steps)
    fig, ax = plt.subplots(figsize=(7.2, 4.5))
    ax.contourf(gx, gy, score, levels=[-1e9, 0.0, 1e9], colors=["#92c5de", "#f4a582"], alpha=0.6)
    ax.contour(gx, gy, score, levels=[0.0], colors="k", linewidths=1)
    for label, colour in ((0, "#0571b0"), (1, "#ca0020")):
        pts = [p for p, c in zip(X, y, strict=True) if c == label]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], c=colour, s=18, edgecolors="k",
                   linewidths=0.4, label=f"class {label}")
    ax.set(title="MLP(2, [16, 16, 1]) on two moons: decision boundary", xlabel="$x_1$",
           ylabel="$x_2$")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    return fig


def curves_figure(history: train.History):
    """The loss (log scale) and the training accuracy, per epoch."""
    import matplotlib.pyplot as plt

    epochs = range(1, len(history.loss) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.semilogy(epochs, history.loss)
    left.set(title="loss (binary cross-entropy)", xlabel="epoch")
    right.plot(epochs, [100 * a for a in history.accuracy])
    right.set(title="training accuracy (%)", xlabel="epoch", ylim=(0, 102))
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def draw_neuron(model: MLP, x, path: Path) -> Path:
    """The graph of the first hidden neuron on one input, after backward from its output."""
    neuron = model.layers[0].neurons[0]
    a = neuron([Value(xi, label=f"x{i + 1}") for i, xi in enumerate(x)])
    a.label = "a"
    a.parents[0].label = "z"
    a.zero_grad()  # training left the last step's grads in the weights: start from 0
    a.backward()
    labels = [p.label for p in neuron.parameters()]
    for p, name in zip(neuron.parameters(), [*(f"w{i + 1}" for i in range(neuron.nin)), "b"],
                       strict=True):
        p.label = p.label or name
    drawing = draw_graph(a, parameters=neuron.parameters(),
                         title="first hidden neuron on one input: each box shows data and "
                               "grad = da/dv of its value v")
    for p, label in zip(neuron.parameters(), labels, strict=True):
        p.label = label
    model.zero_grad()
    return drawing.save(path)


def draw_delta(model: MLP, x, target, loss, path: Path) -> Path:
    """The network on one input after one backward pass of its loss: z, a and delta per neuron
    (``draw_network`` runs the forward and backward pass itself)."""
    drawing = draw_network(model, x, target, loss=loss)
    model.zero_grad()
    return drawing.save(path)


if __name__ == "__main__":
    sys.exit(main())
