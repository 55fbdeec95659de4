"""Digits benchmark through ``train.fit(..., compiled=True)``: what a user gets, against PyTorch.

Run on demand (never in CI):

    OMP_NUM_THREADS=1 python tests/benchmarks/bench_compiled_fit.py [--quick]

The workload of ``bench_torch.py``: ``MLP(64, [32, 10])`` (xavier, tanh, then linear logits),
``softmax_cross_entropy``, SGD lr 0.1, batches of 32, one epoch over the 1,348 training images
of ``nn.data.digits()`` (43 steps), no shuffling, the same initial weights everywhere.

- PyTorch: float64, CPU, one thread, ``torch.optim.SGD`` and ``nn.CrossEntropyLoss``.
- ``fit(compiled=True)``, per epoch: ``fit`` for 1 epoch and for 1 + K epochs, the difference
  divided by K (what an epoch costs once the programs exist), and the whole 1-epoch call
  (tracing and writing the programs included; ``fit`` compiles at every call).
- ``fit`` interpreted, one epoch (the engine's own graph, as ``bench_torch.py`` times it).

Each round times every side in turn, so a shared machine's drift hits them alike; the table
gives the medians and the ratios to PyTorch. Also printed: the largest relative difference of
the weights after the epoch between the compiled and the interpreted fit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch
from bench_torch import BATCH, LR, torch_epoch  # the digits workload, defined once

from nn import MLP, data, losses, optim, train

EXTRA_EPOCHS = 20


def fitted(X: list, y: list, epochs: int, compiled: bool) -> tuple[MLP, float]:
    mlp = MLP(64, [32, 10], init="xavier", seed=0)
    start = time.perf_counter()
    train.fit(mlp, X, y, losses.softmax_cross_entropy, epochs=epochs, batch_size=BATCH,
              shuffle=False, progress=False, compiled=compiled,
              optimizer=optim.SGD(mlp.parameters(), lr=LR))
    return mlp, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke test)")
    quick = parser.parse_args().quick
    rounds = 2 if quick else 5
    torch.set_num_threads(1)
    train_set, _ = data.digits()
    X, y = train_set.X, train_set.y
    interpreted, _ = fitted(X, y, 1, compiled=False)
    compiled, _ = fitted(X, y, 1, compiled=True)
    a, b = (np.array([p.data for p in m.parameters()]) for m in (interpreted, compiled))
    print(f"weights after one epoch, compiled vs interpreted fit: largest difference "
          f"{np.abs(a - b).max() / np.abs(a).max():.1e} of the largest weight")
    torch_epoch(X, y)  # warm up
    found: dict[str, list[float]] = {"pytorch f64, 1 thread": [], "fit(compiled=True), epoch": [],
                                     "fit(compiled=True), 1 call": [], "fit, interpreted": []}
    for r in range(rounds):
        found["pytorch f64, 1 thread"].append(torch_epoch(X, y))
        _, one = fitted(X, y, 1, compiled=True)
        _, more = fitted(X, y, 1 + EXTRA_EPOCHS, compiled=True)
        found["fit(compiled=True), epoch"].append((more - one) / EXTRA_EPOCHS)
        found["fit(compiled=True), 1 call"].append(one)
        if r < (1 if quick else 2):
            found["fit, interpreted"].append(fitted(X, y, 1, compiled=False)[1])
    medians = {name: statistics.median(times) for name, times in found.items()}
    base = medians["pytorch f64, 1 thread"]
    print(f"\ndigits epoch (64-32-10, 43 batches of 32, SGD lr {LR}); medians of {rounds} rounds")
    for name, t in medians.items():
        print(f"  {name:<28} {t * 1e3:9.1f} ms   {t / base:6.2f}x PyTorch's time")
    print("  target: fit(compiled=True) epoch at most 0.5x PyTorch's time")


if __name__ == "__main__":
    main()
