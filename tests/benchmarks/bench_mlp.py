"""MLP benchmark: the W1n training step against micrograd, the matrix trainer against NumPy.

Run on demand (never in CI):

    pip install micrograd==0.1.0        # optional: the reference engine for the first ratio
    python tests/benchmarks/bench_mlp.py [--quick]

1. W1n of ../shared/bench/peers.py: each engine's own ``MLP(2, [16, 16, 1])`` on 100 two-moons
   points (noise 0.1), one step = forward of every point + MSE against +-1 labels + backward +
   SGD(0.05) + zeroing the gradients. deltagrad's default activations are tanh/linear,
   micrograd's relu/linear (as in peers.py).
2. ``nn.closed_form.MatrixTrainer.step`` against the hand-written NumPy step of peers.py's
   ``numpy_closed_form`` row (same network, data and loss; tanh hidden layers).

Timings alternate between the two sides and each ratio is the median of per-round ratios, so
the drift of a shared machine cancels out. Garbage collection stays on (what users get).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from engine import Value
from nn import MLP, data, losses
from nn.closed_form import MatrixTrainer, write_weights

SIZES = [2, 16, 16, 1]


def workload():
    X, y = data.moons(100, noise=0.1, seed=42)
    rng = np.random.default_rng(0)  # peers.py's init: uniform(-1, 1), rows = neurons
    Ws = [rng.uniform(-1, 1, size=(o, i)) for i, o in itertools.pairwise(SIZES)]
    bs = [rng.uniform(-1, 1, size=(o,)) for o in SIZES[1:]]
    return np.array(X), np.array([2.0 * t - 1.0 for t in y]), Ws, bs


def flat(Ws, bs):
    return [v for W, b in zip(Ws, bs, strict=True) for row, bias in zip(W, b, strict=True)
            for v in (*row, bias)]


def scalar_step_factory(V, mlp, params, X, Y):
    """One W1n step with the engine of ``V``, as peers.py runs it."""
    xs = [[V(float(v)) for v in row] for row in X]
    negatives = [-float(t) for t in Y]
    inv_n = 1.0 / len(xs)

    def step():
        t = time.perf_counter()
        squares = []
        for x, neg in zip(xs, negatives, strict=True):
            out = mlp(x)
            d = (out[0] if isinstance(out, list) else out) + neg
            squares.append(d * d)
        loss = sum(squares) * inv_n
        loss.backward()
        for p in params:
            p.data -= 0.05 * p.grad
        for p in params:
            p.grad = 0
        return time.perf_counter() - t

    return step


def ours_w1n(X, Y, Ws, bs):
    mlp = MLP(2, SIZES[1:], seed=0)
    write_weights(mlp, Ws, bs)
    return scalar_step_factory(Value, mlp, mlp.parameters(), X, Y)


def micrograd_w1n(X, Y, Ws, bs):
    from micrograd import nn as mnn
    from micrograd.engine import Value as MValue
    mlp = mnn.MLP(2, SIZES[1:])
    params = mlp.parameters()
    for p, v in zip(params, flat(Ws, bs), strict=True):
        p.data = float(v)
    return scalar_step_factory(MValue, mlp, params, X, Y)


def numpy_step_factory(X, Y, Ws, bs):
    """peers.py's numpy_closed_form step, verbatim in substance."""
    Ws, bs = [W.copy() for W in Ws], [b.copy() for b in bs]
    L, n = len(Ws), X.shape[0]

    def step():
        t = time.perf_counter()
        a = X.T
        As, Zs = [a], []
        for k in range(L):
            z = Ws[k] @ a + bs[k][:, None]
            a = np.tanh(z) if k < L - 1 else z
            Zs.append(z)
            As.append(a)
        float(np.mean((As[-1][0] - Y) ** 2))
        delta = (2.0 / n) * (As[-1] - Y[None, :])
        dWs, dbs = [None] * L, [None] * L
        for k in range(L - 1, -1, -1):
            dWs[k] = delta @ As[k].T
            dbs[k] = delta.sum(axis=1)
            if k > 0:
                delta = (Ws[k].T @ delta) * (1 - As[k] * As[k])
        for k in range(L):
            Ws[k] -= 0.05 * dWs[k]
            bs[k] -= 0.05 * dbs[k]
        return time.perf_counter() - t

    return step


def trainer_step_factory(X, Y, Ws, bs):
    mlp = MLP(2, SIZES[1:], seed=0)
    write_weights(mlp, Ws, bs)
    trainer = MatrixTrainer(mlp, losses.mse, lr=0.05)
    targets = trainer.targets(Y.tolist())

    def step():
        t = time.perf_counter()
        trainer.step(X, targets)
        return time.perf_counter() - t

    return step


def warm(step, n):
    for _ in range(n):
        step()
    gc.collect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke test)")
    args = parser.parse_args()
    rounds = 2 if args.quick else 5
    X, Y, Ws, bs = workload()
    random.seed(0)

    ours = ours_w1n(X, Y, Ws, bs)
    warm(ours, 5)
    try:
        theirs = micrograd_w1n(X, Y, Ws, bs)
        warm(theirs, 1)
    except ImportError:
        theirs = None
    our_times, ratios = [], []
    for _ in range(rounds):
        # each side runs a block of consecutive steps after a collection, as peers.py runs each
        # engine in its own process: micrograd's graphs are reference cycles, and their
        # collection belongs to micrograd's steps, not to ours
        gc.collect()
        t_ours = statistics.median(ours() for _ in range(5))
        our_times.append(t_ours)
        if theirs is not None:
            gc.collect()
            theirs()  # its garbage then builds up as it does in a training loop
            ratios.append(statistics.median(theirs() for _ in range(2)) / t_ours)
    print(f"W1n step (MLP(2, [16, 16, 1]), 100 moons points): deltagrad "
          f"{statistics.median(our_times) * 1e3:.1f} ms (median of {rounds} x 5 steps)")
    if ratios:
        print(f"  micrograd / deltagrad: {statistics.median(ratios):.0f}x "
              f"(per-round ratios {', '.join(f'{r:.0f}' for r in ratios)}; target >= 100x)")
    else:
        print("  micrograd is not installed: pip install micrograd==0.1.0 for the ratio")

    trainer, reference = trainer_step_factory(X, Y, Ws, bs), numpy_step_factory(X, Y, Ws, bs)
    warm(trainer, 50)
    warm(reference, 50)
    per_round = 100 if args.quick else 300
    ratios, t_trainer, t_reference = [], [], []
    for _ in range(rounds * 2):
        a = statistics.median(trainer() for _ in range(per_round))
        b = statistics.median(reference() for _ in range(per_round))
        t_trainer.append(a)
        t_reference.append(b)
        ratios.append(a / b)
    print(f"MatrixTrainer.step {statistics.median(t_trainer) * 1e6:.1f} us, hand-written NumPy "
          f"{statistics.median(t_reference) * 1e6:.1f} us: ratio "
          f"{statistics.median(ratios):.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
